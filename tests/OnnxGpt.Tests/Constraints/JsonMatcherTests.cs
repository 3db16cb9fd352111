using System.Text;
using OnnxGpt.Constraints;

namespace OnnxGpt.Tests.Constraints;

/// <summary>The grammar on its own: which texts it accepts whole, which prefixes it keeps alive, which it rejects.</summary>
[TestFixture]
public sealed class JsonMatcherTests
{
    private static JsonMatcher Matcher(string? schema, string prefix = "", string suffix = "") =>
        JsonSchemaConstraint.Get(new JsonOutputFrame(prefix, schema, suffix), "schema").Matcher();

    /// <summary>0: rejected; 1: a live prefix, not whole; 2: whole (may go on); 3: whole, nothing may follow.</summary>
    private static int Run(string? schema, string text, string prefix = "", string suffix = "")
    {
        var matcher = Matcher(schema, prefix, suffix);
        return !matcher.Feed(Encoding.UTF8.GetBytes(text)) ? 0 : matcher.Complete ? 3 : matcher.Accepting ? 2 : 1;
    }

    [TestCase("""{"name":"Ann","age":30}""", 3)]
    [TestCase("""{ "name" : "Ann" , "age" : 120 }""", 3)]
    [TestCase("""{"name":"Ann","age":121}""", 0)]
    [TestCase("""{"name":"Ann","age":-1""", 0)]
    [TestCase("""{"age":30,"name":"Ann"}""", 0)]
    [TestCase("""{"name":"Ann"}""", 0)]
    [TestCase("""{"name":"Ann","age":3""", 1)]
    [TestCase("""{"name":"Ann","age":30,"x":1}""", 0)]
    [TestCase("""{"name":"A very long name","age":3}""", 0)]
    [TestCase("""{"nam""", 1)]
    [TestCase("""{"nope""", 0)]
    [TestCase("""{"name":"Ann","age":1.5}""", 0)]
    [TestCase("""{"name":"Ann","age":012}""", 0)]
    public void Object_with_required_properties_in_order(string text, int expected)
    {
        const string Schema = """{"type":"object","properties":{"name":{"type":"string","maxLength":12},"age":{"type":"integer","minimum":0,"maximum":120}},"required":["name","age"],"additionalProperties":false}""";
        Assert.That(Run(Schema, text), Is.EqualTo(expected));
    }

    [TestCase("""{}""", 3)]
    [TestCase("""{"b":true}""", 3)]
    [TestCase("""{"a":"x","c":null}""", 3)]
    [TestCase("""{"c":null,"a":"x"}""", 0)]
    [TestCase("""{"a":"x",}""", 0)]
    public void Optional_properties_may_be_left_out(string text, int expected)
    {
        const string Schema = """{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"boolean"},"c":{"type":"null"}}}""";
        Assert.That(Run(Schema, text), Is.EqualTo(expected));
    }

    [TestCase("[]", 0)]
    [TestCase("[1]", 0)]
    [TestCase("[1,2]", 3)]
    [TestCase("[1, 2.25, -1.25, 0]", 3)]
    [TestCase("[1,2,3,4,5]", 0)]
    [TestCase("[2.5,1]", 0)]
    [TestCase("[-1.5,1]", 0)]
    [TestCase("[-1.49,2.4999]", 3)]
    [TestCase("[1e3", 0)]
    [TestCase("[3", 0)]
    public void Array_of_bounded_numbers(string text, int expected)
    {
        const string Schema = """{"type":"array","items":{"type":"number","exclusiveMinimum":-1.5,"exclusiveMaximum":2.5},"minItems":2,"maxItems":4}""";
        Assert.That(Run(Schema, text), Is.EqualTo(expected));
    }

    [TestCase("\"green\"", 3)]
    [TestCase("\"green-blue\"", 3)]
    [TestCase("\"gre", 1)]
    [TestCase("\"greenish\"", 0)]
    [TestCase("\"Red\"", 0)]
    public void String_enum(string text, int expected) =>
        Assert.That(Run("""{"type":"string","enum":["red","green","blue","green-blue"]}""", text), Is.EqualTo(expected));

    [TestCase("1", 2)]
    [TestCase("12", 3)]
    [TestCase("123", 0)]
    [TestCase("true", 3)]
    public void Enum_whose_values_are_prefixes_of_each_other(string text, int expected) =>
        Assert.That(Run("""{"enum":[1,12,true]}""", text), Is.EqualTo(expected));

    [TestCase("\"2024-02-29\"", 3)]
    [TestCase("\"2023-02-29\"", 0)]
    [TestCase("\"2023-02-3", 0)]
    [TestCase("\"2023-13", 0)]
    [TestCase("\"2023-1", 1)]
    [TestCase("\"2023-04-31\"", 0)]
    [TestCase("\"2023-04-30\"", 3)]
    public void Date_format(string text, int expected) =>
        Assert.That(Run("""{"type":"string","format":"date"}""", text), Is.EqualTo(expected));

    [TestCase("\"2024-02-29T13:05:00Z\"", 3)]
    [TestCase("\"2024-02-29T13:05:00.125+01:30\"", 3)]
    [TestCase("\"2024-02-29T24:00:00Z\"", 0)]
    [TestCase("\"2024-02-29T13:60", 0)]
    [TestCase("\"2024-02-29T13:05:00\"", 0)]
    [TestCase("\"2024-02-29 13:05:00Z\"", 0)]
    public void Date_time_format(string text, int expected) =>
        Assert.That(Run("""{"type":"string","format":"date-time"}""", text), Is.EqualTo(expected));

    [TestCase("\"123e4567-e89b-12d3-a456-426614174000\"", 3)]
    [TestCase("\"123e4567-e89b-12d3-a456-42661417400\"", 0)]
    [TestCase("\"123g", 0)]
    public void Uuid_format(string text, int expected) =>
        Assert.That(Run("""{"type":"string","format":"uuid"}""", text), Is.EqualTo(expected));

    [TestCase("\"caf\u00e9 \u00fc\u20ac\U0001F600\"", 3)]
    [TestCase("\"a\\\"b\\\\c\\/\\n\\t\\u00e9\"", 3)]
    [TestCase("\"a\\x\"", 0)]
    [TestCase("\"a\\u12g", 0)]
    [TestCase("\"a\\ud83d", 0)]
    [TestCase("\"tab\there\"", 0)]
    public void Strings_take_escapes_and_multi_byte_characters(string text, int expected) =>
        Assert.That(Run("""{"type":"string"}""", text), Is.EqualTo(expected));

    [Test]
    public void Strings_reject_invalid_UTF8()
    {
        foreach (var bytes in new byte[][] { [0x22, 0xC0, 0x80], [0x22, 0xED, 0xA0, 0x80], [0x22, 0xF5], [0x22, 0xE2, 0x28], [0x22, 0x80] })
        {
            Assert.That(Matcher("""{"type":"string"}""").Feed(bytes), Is.False, Convert.ToHexString(bytes));
        }

        Assert.That(Matcher("""{"type":"string"}""").Feed([0x22, 0xE2, 0x82]), Is.True, "a character split across tokens stays alive");
    }

    [TestCase("\"ab\"", 0)]
    [TestCase("\"abc\"", 3)]
    [TestCase("\"\u00e9\u00e9\u00e9\u00e9\"", 3)]
    [TestCase("\"\u00e9\u00e9\u00e9\u00e9\u00e9\"", 0)]
    [TestCase("\"\\n\\n\\n\"", 3)]
    public void String_length_counts_code_points(string text, int expected) =>
        Assert.That(Run("""{"type":"string","minLength":3,"maxLength":4}""", text), Is.EqualTo(expected));

    [TestCase("null", 3)]
    [TestCase("\"abc\"", 3)]
    [TestCase("\"ab\"", 0)]
    [TestCase("7", 1)]
    [TestCase("-1", 0)]
    [TestCase("10", 2)]
    public void Type_unions(string text, int expected) =>
        Assert.That(Run("""{"anyOf":[{"type":["string","null"],"minLength":3},{"type":"integer","minimum":10}]}""", text), Is.EqualTo(expected));

    [TestCase("""{"kind":"circle","r":1.5}""", 3)]
    [TestCase("""{"kind":"square","side":2}""", 3)]
    [TestCase("""{"kind":"square","r":2}""", 0)]
    [TestCase("""{"kind":"circle","side":2}""", 0)]
    public void AnyOf_objects_stay_undecided_until_they_differ(string text, int expected) =>
        Assert.That(Run(SchemaBattery.Schemas.Single(s => s.Name == "anyOf").Schema, text), Is.EqualTo(expected));

    [TestCase("""{"value":1,"children":[{"value":2,"children":[]},{"value":3,"children":[{"value":4,"children":[]}]}]}""", 3)]
    [TestCase("""{"value":1,"children":[{"value":2}]}""", 0)]
    public void Recursive_refs(string text, int expected) =>
        Assert.That(Run(SchemaBattery.Schemas.Single(s => s.Name == "ref").Schema, text), Is.EqualTo(expected));

    [TestCase("""{"a":[1,{"b":null}],"c":"d"}""", 3)]
    [TestCase("-0.5e+10", 2)]
    [TestCase("[true,false,null,\"x\"]", 3)]
    [TestCase("[01]", 0)]
    [TestCase("{\"a\" 1}", 0)]
    [TestCase("tru", 1)]
    public void Any_value(string text, int expected) => Assert.That(Run(null, text), Is.EqualTo(expected));

    [TestCase("<tool_call>\n{\"name\":\"f\"}\n</tool_call>", 3)]
    [TestCase("<tool_call>\n{\"name\":\"g\"}", 0)]
    [TestCase("<tool_call>\n{\"name\":\"f\"}\n</tool_", 1)]
    [TestCase("{\"name\":\"f\"}", 0)]
    public void Prefix_value_suffix(string text, int expected) =>
        Assert.That(Run("""{"type":"object","properties":{"name":{"const":"f"}},"required":["name"]}""", text, "<tool_call>\n", "\n</tool_call>"), Is.EqualTo(expected));

    [Test]
    public void Whitespace_is_bounded()
    {
        Assert.Multiple(() =>
        {
            Assert.That(Run("""{"type":"object"}""", "{" + new string(' ', JsonFrame.MaxWhitespace) + "}"), Is.EqualTo(3));
            Assert.That(Run("""{"type":"object"}""", "{" + new string(' ', JsonFrame.MaxWhitespace + 1)), Is.EqualTo(0));
            Assert.That(Run("""{"type":"object"}""", " {}"), Is.EqualTo(0), "no whitespace before the value");
        });
    }

    [TestCase("""{"type":"string","pattern":"^a"}""", "pattern")]
    [TestCase("""{"type":"object","properties":{"x":{"oneOf":[{"type":"string"}]}}}""", "oneOf")]
    [TestCase("""{"type":"number","multipleOf":2}""", "multipleOf")]
    [TestCase("""{"type":"string","format":"email"}""", "email")]
    [TestCase("""{"type":"array","prefixItems":[]}""", "prefixItems")]
    [TestCase("""{"$ref":"other.json"}""", "other.json")]
    [TestCase("""{"type":"integer","minimum":5,"maximum":4}""", "no integer")]
    [TestCase("""{"type":"strin"}""", "strin")]
    [TestCase("""{"type":""", "not valid JSON")]
    public void Unsupported_or_invalid_schemas_are_an_ArgumentException_naming_the_keyword(string schema, string named)
    {
        var options = new OnnxGpt.Generation.GenerationOptions { JsonSchema = schema };
        var error = Assert.Throws<ArgumentException>(options.Validate)!;
        Assert.Multiple(() =>
        {
            Assert.That(error.ParamName, Is.EqualTo("JsonSchema"));
            Assert.That(error.Message, Does.Contain(named));
        });
    }
}
