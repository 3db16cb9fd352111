namespace OnnxGpt.Templates.Jinja;

/// <summary>Turns offsets into 1-based line and column numbers for error messages.</summary>
internal sealed class JinjaSourceMap
{
    private readonly List<int> _lineStarts = [0];

    public JinjaSourceMap(string source)
    {
        for (var i = 0; i < source.Length; i++)
        {
            if (source[i] == '\n')
            {
                _lineStarts.Add(i + 1);
            }
        }
    }

    public (int Line, int Column) Locate(int position)
    {
        var index = _lineStarts.BinarySearch(position);
        if (index < 0)
        {
            index = ~index - 1;
        }

        return (index + 1, position - _lineStarts[index] + 1);
    }
}
