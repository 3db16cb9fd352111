using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace OnnxGpt.Bench;

/// <summary>
/// A plain ONNX Runtime loop written the simplest obvious way: each step builds a <c>List&lt;NamedOnnxValue&gt;</c> of
/// <see cref="DenseTensor{T}"/> inputs, calls <see cref="InferenceSession.Run(IReadOnlyCollection{NamedOnnxValue})"/>,
/// copies the logits and every present out to managed arrays and tensors, and feeds those back as the next pasts.
/// </summary>
internal sealed class OrtNaiveLoop : IGenerationLoop
{
    public const string DisplayName = "ORT naive";

    private readonly InferenceSession _session;
    private readonly OrtGraph _graph;
    private readonly IReadOnlyList<int> _eos;

    public OrtNaiveLoop(ModelFolder folder, int? threads, IReadOnlyDictionary<string, string>? sessionConfig = null)
    {
        using var options = OrtGraph.CreateSessionOptions(threads, sessionConfig);
        _session = new InferenceSession(folder.GraphPath, options);
        _graph = OrtGraph.Read(_session, folder);
        _eos = folder.EosTokenIds;
    }

    public string Name => DisplayName;

    public ValueTask GenerateAsync(int[] prompt, int newTokens, TokenRecorder recorder, CancellationToken cancellationToken)
    {
        var vocabulary = _graph.VocabularySize;
        var past = new Dictionary<string, DenseTensor<float>>();
        for (var i = 0; i < _graph.PastNames.Length; i++)
        {
            past[_graph.PastNames[i]] = new DenseTensor<float>(_graph.EmptyPastShapes[i].Select(d => (int)d).ToArray());
        }

        var next = prompt.Select(id => (long)id).ToArray();
        var pastLength = 0;
        for (var produced = 0; produced < newTokens; produced++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var length = next.Length;
            var inputs = new List<NamedOnnxValue>
            {
                NamedOnnxValue.CreateFromTensor(OrtGraph.InputIds, new DenseTensor<long>(next, [1, length])),
            };
            if (_graph.HasAttentionMask)
            {
                var mask = Enumerable.Repeat(1L, pastLength + length).ToArray();
                inputs.Add(NamedOnnxValue.CreateFromTensor(OrtGraph.AttentionMask, new DenseTensor<long>(mask, [1, pastLength + length])));
            }

            if (_graph.HasPositionIds)
            {
                var positions = Enumerable.Range(pastLength, length).Select(p => (long)p).ToArray();
                inputs.Add(NamedOnnxValue.CreateFromTensor(OrtGraph.PositionIds, new DenseTensor<long>(positions, [1, length])));
            }

            foreach (var name in _graph.PastNames)
            {
                inputs.Add(NamedOnnxValue.CreateFromTensor(name, past[name]));
            }

            float[] logits;
            using (var results = _session.Run(inputs))
            {
                logits = results.First(r => r.Name == OrtGraph.Logits).AsEnumerable<float>().ToArray();
                for (var i = 0; i < _graph.PastNames.Length; i++)
                {
                    var present = results.First(r => r.Name == _graph.PresentNames[i]);
                    past[_graph.PastNames[i]] = present.AsTensor<float>().ToDenseTensor();
                }
            }

            var best = 0;
            var offset = (length - 1) * vocabulary;
            for (var v = 1; v < vocabulary; v++)
            {
                if (logits[offset + v] > logits[offset + best])
                {
                    best = v;
                }
            }

            pastLength += length;
            if (!recorder.OnToken(best) || _eos.Contains(best))
            {
                break;
            }

            next = [best];
        }

        return ValueTask.CompletedTask;
    }

    public void Dispose() => _session.Dispose();
}
