using OnnxGpt.Generation;
using OnnxGpt.Generation.Decoding;
using OnnxGpt.Models;
using OnnxGpt.Tokenization;

namespace OnnxGpt.Tests.Generation.Decoding;

/// <summary>
/// The generation loop over a backend's <see cref="GptDecoder"/>, with a scripted decoder whose next token is a
/// function of what its cache holds: ids, finish reasons, a backend's own choice, conversations (rewound to the shared
/// prefix), a failing run, cancellation and disposal under a running request.
/// </summary>
[TestFixture]
public sealed class DecoderGeneratorTests : TinyShakespeareFixture
{
    private static readonly int[] Prompt = [859, 26, 199];

    /// <summary>The scripted model: the next token after <paramref name="ids"/> (never eos, which is 0).</summary>
    private static int NextAfter(List<int> ids) => 100 + (((ids[^1] * 31) + ids.Count) % 97);

    private static int[] Expected(int[] prompt, int count)
    {
        var ids = new List<int>(prompt);
        for (var i = 0; i < count; i++)
        {
            ids.Add(NextAfter(ids));
        }

        return [.. ids.Skip(prompt.Length)];
    }

    [Test]
    public async Task The_loop_samples_greedily_from_the_decoders_scores_and_disposes_its_sequence()
    {
        using var decoder = new ScriptedDecoder(Model, native: false);
        var generator = DecoderGenerator.Create(decoder);

        var result = await generator.GenerateAsync(Prompt, new GenerationOptions { DoSample = false, MaxNewTokens = 8 });

        using (Assert.EnterMultipleScope())
        {
            Assert.That(result.TokenIds, Is.EqualTo(Expected(Prompt, 8)));
            Assert.That(result.FinishReason, Is.EqualTo(FinishReason.Length));
            Assert.That(result.ExecutionProvider, Is.EqualTo("Scripted"));
            Assert.That(result.Text, Is.EqualTo(Model.Tokenizer!.Decode(Expected(Prompt, 8))));

            // The prompt in one run, then one run per token but the last, which is never fed.
            Assert.That(decoder.Sequences.Single().Runs, Is.EqualTo(new[] { 3, 1, 1, 1, 1, 1, 1, 1 }));
            Assert.That(decoder.Sequences.Single().Disposed, Is.True);
            Assert.That(decoder.KeptConversationCount, Is.Zero);
        }
    }

    [Test]
    public async Task A_decoder_that_chooses_its_tokens_is_taken_at_its_word_and_may_end_the_sequence_itself()
    {
        using var decoder = new ScriptedDecoder(Model, native: true) { DoneAfter = 5 };
        var generator = DecoderGenerator.Create(decoder);

        var result = await generator.GenerateAsync(Prompt, new GenerationOptions { MaxNewTokens = 20 });

        using (Assert.EnterMultipleScope())
        {
            Assert.That(result.TokenIds, Is.EqualTo(Expected(Prompt, 5)));
            Assert.That(result.FinishReason, Is.EqualTo(FinishReason.Eos));
        }
    }

    [Test]
    public async Task A_conversations_next_turn_continues_its_kept_sequence_from_the_shared_prefix()
    {
        using var decoder = new ScriptedDecoder(Model, native: false);
        var generator = DecoderGenerator.Create(decoder);
        var turn = new GenerationOptions { DoSample = false, MaxNewTokens = 6, ConversationId = "c" };

        var first = await generator.GenerateAsync(Prompt, turn);
        var kept = decoder.KeptConversationCount;
        int[] next = [.. Prompt, .. first.TokenIds, 150, 151];
        var second = await generator.GenerateAsync(next, turn);
        var fresh = await generator.GenerateAsync(next, new GenerationOptions { DoSample = false, MaxNewTokens = 6 });

        using (Assert.EnterMultipleScope())
        {
            Assert.That(kept, Is.EqualTo(1));

            // The cache holds the prompt and every generated token but the last.
            Assert.That(second.ReusedPromptTokenCount, Is.EqualTo(Prompt.Length + 5));
            Assert.That(decoder.Sequences[0].RewoundTo, Is.EqualTo(new[] { Prompt.Length + 5 }));
            Assert.That(decoder.Sequences, Has.Count.EqualTo(2), "the second turn opened no sequence; the fresh request did");
            Assert.That(second.TokenIds, Is.EqualTo(fresh.TokenIds));
            Assert.That(second.TokenIds, Is.EqualTo(Expected(next, 6)));
        }
    }

    [Test]
    public void A_failing_run_ends_its_request_with_the_backends_exception_and_releases_its_sequence()
    {
        var decoder = new ScriptedDecoder(Model, native: false) { FailAtLength = 6 };
        var generator = DecoderGenerator.Create(decoder);

        var thrown = Assert.ThrowsAsync<InvalidOperationException>(async () => await generator.GenerateAsync(Prompt, new GenerationOptions { DoSample = false, MaxNewTokens = 8 }));
        decoder.Dispose();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(thrown!.Message, Is.EqualTo("scripted failure at 6 positions"));
            Assert.That(decoder.Sequences.Single().Disposed, Is.True);
            Assert.That(decoder.Releases, Is.EqualTo(1));
        }
    }

    [Test]
    public void A_cancelled_request_throws_with_the_tokens_it_was_given()
    {
        using var decoder = new ScriptedDecoder(Model, native: false);
        var generator = DecoderGenerator.Create(decoder);
        using var cts = new CancellationTokenSource();
        var read = new List<int>();

        var thrown = Assert.CatchAsync<GenerationCanceledException>(async () =>
        {
            await foreach (var token in generator.StreamAsync(Prompt, new GenerationOptions { DoSample = false, MaxNewTokens = 50 }, cts.Token))
            {
                read.Add(token.Id);
                if (read.Count == 3)
                {
                    await cts.CancelAsync();
                }
            }
        });

        using (Assert.EnterMultipleScope())
        {
            Assert.That(read, Is.EqualTo(Expected(Prompt, 3)));
            Assert.That(thrown!.PartialResult!.TokenIds, Is.EqualTo(Expected(Prompt, 3)));
            Assert.That(thrown.PartialResult!.FinishReason, Is.EqualTo(FinishReason.Cancelled));
            Assert.That(decoder.Sequences.Single().Disposed, Is.True);
        }
    }

    [Test]
    public void Disposing_the_decoder_under_a_running_request_ends_it_and_releases_the_model_once_its_sequence_is_gone()
    {
        var decoder = new ScriptedDecoder(Model, native: false);
        var generator = DecoderGenerator.Create(decoder);
        var read = 0;
        var releasesWhileRunning = -1;

        Assert.ThrowsAsync<ObjectDisposedException>(async () =>
        {
            await foreach (var token in generator.StreamAsync(Prompt, new GenerationOptions { DoSample = false, MaxNewTokens = 50 }))
            {
                if (++read == 2)
                {
                    decoder.Dispose();
                    releasesWhileRunning = decoder.Releases;
                }
            }
        });

        using (Assert.EnterMultipleScope())
        {
            Assert.That(read, Is.EqualTo(2));
            Assert.That(releasesWhileRunning, Is.Zero, "the running request's sequence was still open");
            Assert.That(decoder.Releases, Is.EqualTo(1));
            Assert.ThrowsAsync<ObjectDisposedException>(async () => await generator.GenerateAsync(Prompt));
        }
    }

    /// <summary>A decoder whose sequences score <see cref="NextAfter"/> highest (or choose it themselves).</summary>
    private sealed class ScriptedDecoder(GptModel model, bool native) : GptDecoder(model.Info, new GptOptions { ModelPath = model.Info.ModelPath }, "Scripted")
    {
        public List<ScriptedSequence> Sequences { get; } = [];

        public int Releases { get; private set; }

        public int? FailAtLength { get; init; }

        public int? DoneAfter { get; init; }

        public override GptTokenizer? Tokenizer => model.Tokenizer;

        public override bool SamplesNatively => native;

        protected internal override DecoderSequence Open(DecoderRequest request)
        {
            var sequence = new ScriptedSequence(Info.VocabularySize, FailAtLength, DoneAfter);
            Sequences.Add(sequence);
            return sequence;
        }

        protected override void ReleaseResources() => Releases++;
    }

    private sealed class ScriptedSequence(int vocabulary, int? failAtLength, int? doneAfter) : DecoderSequence
    {
        private readonly List<int> _ids = [];
        private readonly float[] _logits = new float[vocabulary];
        private int? _chosen;
        private int _chosenCount;

        public List<int> Runs { get; } = [];

        public List<int> RewoundTo { get; } = [];

        public bool Disposed { get; private set; }

        public override int Length => _ids.Count;

        public override Span<float> Logits => _logits;

        public override bool IsDone => doneAfter is { } done && _chosenCount >= done;

        public override void Append(ReadOnlySpan<int> tokens)
        {
            if (failAtLength is { } fail && _ids.Count + tokens.Length >= fail)
            {
                throw new InvalidOperationException($"scripted failure at {fail} positions");
            }

            _ids.AddRange(tokens);
            Runs.Add(tokens.Length);
            Score();
        }

        public override int GenerateNext()
        {
            if (_chosen is { } last)
            {
                Append([last]);
            }

            _chosenCount++;
            _chosen = NextAfter(_ids);
            return _chosen.Value;
        }

        public override bool TryRewind(int length)
        {
            RewoundTo.Add(length);
            _ids.RemoveRange(length, _ids.Count - length);
            _chosen = null;
            Score();
            return true;
        }

        protected override void Dispose(bool disposing)
        {
            Disposed = true;
            base.Dispose(disposing);
        }

        private void Score()
        {
            Array.Clear(_logits);
            _logits[NextAfter(_ids)] = 10;
        }
    }
}
