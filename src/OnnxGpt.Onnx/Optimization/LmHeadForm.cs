namespace OnnxGpt.Onnx.Optimization;

/// <summary>The graph forms <see cref="LmHeadFusion"/> rewrites a tied lm_head into.</summary>
internal enum LmHeadForm
{
    /// <summary>com.microsoft <c>FusedMatMul</c> with <c>transB=1</c> on the weight itself (no Transpose).</summary>
    TransB,

    /// <summary><see cref="TransB"/>, with the weight an overridable initializer, so ONNX Runtime does not prepack it.</summary>
    Unpacked,

    /// <summary>Two row blocks of the weight, a <c>FusedMatMul</c> each, one <c>Concat</c>.</summary>
    Split2,

    /// <summary>Four row blocks of the weight, a <c>FusedMatMul</c> each, one <c>Concat</c>.</summary>
    Split4,
}
