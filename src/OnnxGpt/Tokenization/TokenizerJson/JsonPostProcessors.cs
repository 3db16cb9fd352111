namespace OnnxGpt.Tokenization.TokenizerJson;

/// <summary>
/// A Hugging Face post-processor: the special tokens <c>tokenizer(text)</c> adds around a single text's ids
/// (nothing is added with <c>add_special_tokens=False</c>).
/// </summary>
internal abstract class JsonPostProcessor
{
    /// <summary>Returns the ids with the special tokens added.</summary>
    public abstract List<int> Process(List<int> ids);

    /// <summary>How <c>onnxgpt inspect</c> names it.</summary>
    public abstract string Describe();
}

/// <summary>Adds nothing to the ids (<c>ByteLevel</c> only trims offsets).</summary>
internal sealed class OffsetsOnlyPostProcessor(string name) : JsonPostProcessor
{
    public override List<int> Process(List<int> ids) => ids;

    public override string Describe() => name;
}

/// <summary>The <c>single</c> template of <c>TemplateProcessing</c>: special tokens' ids around the sequence <c>A</c>.</summary>
internal sealed class TemplatePostProcessor(IReadOnlyList<int> before, IReadOnlyList<int> after, string description) : JsonPostProcessor
{
    public override List<int> Process(List<int> ids)
    {
        var result = new List<int>(before.Count + ids.Count + after.Count);
        result.AddRange(before);
        result.AddRange(ids);
        result.AddRange(after);
        return result;
    }

    public override string Describe() => description;
}

/// <summary>Applies post-processors in order (<c>Sequence</c>).</summary>
internal sealed class SequencePostProcessor(IReadOnlyList<JsonPostProcessor> processors) : JsonPostProcessor
{
    public override List<int> Process(List<int> ids)
    {
        foreach (var processor in processors)
        {
            ids = processor.Process(ids);
        }

        return ids;
    }

    public override string Describe() => processors.Count == 0 ? "none" : string.Join(" > ", processors.Select(p => p.Describe()));
}
