namespace OnnxGpt.Tests.Constraints;

/// <summary>The schemas every constrained-generation test runs: each supported keyword, nested, unions, $ref.</summary>
internal static class SchemaBattery
{
    public static readonly (string Name, string Schema)[] Schemas =
    [
        ("object", """{"type":"object","properties":{"name":{"type":"string","maxLength":12},"age":{"type":"integer","minimum":0,"maximum":120}},"required":["name","age"],"additionalProperties":false}"""),
        ("array", """{"type":"array","items":{"type":"number","exclusiveMinimum":-1.5,"exclusiveMaximum":2.5},"minItems":2,"maxItems":4}"""),
        ("enum", """{"type":"string","enum":["red","green","blue","green-blue"]}"""),
        ("const", """{"const":{"a":[1,"two",null]}}"""),
        ("formats", """{"type":"object","properties":{"day":{"type":"string","format":"date"},"at":{"type":"string","format":"date-time"},"id":{"type":"string","format":"uuid"}},"required":["day","at","id"],"additionalProperties":false}"""),
        ("scalars", """{"type":"object","properties":{"flag":{"type":"boolean"},"nothing":{"type":"null"},"either":{"type":["string","null"],"minLength":3,"maxLength":6},"count":{"type":["integer","null"],"minimum":10}},"required":["flag","nothing","either","count"],"additionalProperties":false}"""),
        ("anyOf", """{"anyOf":[{"type":"object","properties":{"kind":{"const":"circle"},"r":{"type":"number","minimum":0}},"required":["kind","r"],"additionalProperties":false},{"type":"object","properties":{"kind":{"const":"square"},"side":{"type":"integer"}},"required":["kind","side"],"additionalProperties":false}]}"""),
        ("ref", """{"$defs":{"node":{"type":"object","properties":{"value":{"type":"integer"},"children":{"type":"array","items":{"$ref":"#/$defs/node"},"maxItems":2}},"required":["value","children"],"additionalProperties":false}},"$ref":"#/$defs/node"}"""),
        ("nested", """{"type":"object","properties":{"title":{"type":"string","minLength":2,"maxLength":20},"tags":{"type":"array","items":{"type":"string","maxLength":8},"maxItems":3},"meta":{"type":"object","properties":{"x":{"type":"number"}},"required":["x"]}},"required":["title","meta"]}"""),
        ("object-any", """{"type":"object"}"""),
        ("string", """{"type":"string","minLength":1}"""),
    ];

    public static IEnumerable<TestCaseData> Cases() => Schemas.Select(s => new TestCaseData(s.Schema).SetArgDisplayNames(s.Name));
}
