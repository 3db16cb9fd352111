namespace OnnxGpt.Onnx.Quantization;

/// <summary>One MatMul weight in <c>MatMulNBits</c>'s layout.</summary>
/// <param name="Packed">The codes, [N, K/block, block*bits/8] bytes, low nibble first for 4 bits.</param>
/// <param name="Scales">One scale per column and block, [N * K/block].</param>
/// <param name="ZeroPoints">Asymmetric only: [N * ceil(K/block / 2)] bytes for 4 bits (two blocks per byte), [N * K/block] for 8; null when symmetric.</param>
/// <param name="K">The weight's rows (reduction dimension), before padding.</param>
/// <param name="N">The weight's columns.</param>
/// <param name="Bits">Bits per code.</param>
/// <param name="BlockSize">Values per block.</param>
public sealed record QuantizedWeight(byte[] Packed, float[] Scales, byte[]? ZeroPoints, int K, int N, int Bits, int BlockSize)
{
    /// <summary>Blocks per column: K rounded up to whole blocks.</summary>
    public int BlocksPerColumn => (K + BlockSize - 1) / BlockSize;
}
