namespace OnnxGpt.Cli;

/// <summary>The exit codes of <c>onnxgpt</c>.</summary>
internal static class ExitCodes
{
    /// <summary>The command succeeded.</summary>
    public const int Success = 0;

    /// <summary>The model could not be loaded or run.</summary>
    public const int Failure = 1;

    /// <summary>The command line or a setting was invalid.</summary>
    public const int Usage = 2;

    /// <summary>The user pressed Ctrl+C (128 + SIGINT, as shells report it).</summary>
    public const int Cancelled = 130;
}
