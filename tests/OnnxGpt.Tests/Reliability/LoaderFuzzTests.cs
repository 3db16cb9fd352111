using System.Text;
using OnnxGpt.Generation;

namespace OnnxGpt.Tests.Reliability;

/// <summary>
/// Throws random bytes and random mutations of the embedded model's files at the loader (seeded, bounded in time):
/// only <see cref="ModelLoadException"/> may come out, and a model that loads still generates or fails with a
/// documented exception.
/// </summary>
[TestFixture]
public sealed class LoaderFuzzTests
{
    private static readonly string[] SmallFiles = ["config.json", "generation_config.json", "genai_config.json", "tokenizer_config.json", "vocab.json", "merges.txt", "tokenizer.json"];

    [Test]
    public async Task Mutated_model_folders_give_only_documented_exceptions()
    {
        var random = new Random(20261127);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        var outcomes = new Dictionary<string, int>();
        var iterations = 0;
        for (; iterations < 150 && DateTime.UtcNow < deadline; iterations++)
        {
            using var dir = new TempDirectory();
            foreach (var file in Directory.GetFiles(TestPaths.TinyShakespeare))
            {
                var target = dir.File(Path.GetFileName(file));
                if (Path.GetFileName(file) == "model.onnx")
                {
                    File.CreateSymbolicLink(target, file);
                }
                else
                {
                    File.Copy(file, target);
                }
            }

            var mutation = Mutate(dir, random);
            var outcome = await LoadAndGenerate(dir.Path, mutation);
            outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;
        }

        TestContext.Out.WriteLine($"{iterations} mutations: " + string.Join(", ", outcomes.Select(o => $"{o.Key} x{o.Value}")));
        Assert.That(outcomes.Keys, Is.SubsetOf(new[] { "loaded", "ModelLoadException", "generation: PromptTooLongException", "generation: ArgumentOutOfRangeException", "generation: ArgumentException", "generation: GptException" }));
    }

    [Test]
    public void Truncated_and_random_graphs_give_a_model_load_exception()
    {
        var random = new Random(7);
        var bytes = File.ReadAllBytes(Path.Combine(TestPaths.TinyShakespeare, "model.onnx"));
        foreach (var length in new[] { 0, 1, 100, 4096, bytes.Length / 2, bytes.Length - 1 })
        {
            using var dir = new TempDirectory();
            File.WriteAllBytes(dir.File("model.onnx"), bytes.AsSpan(0, length).ToArray());
            Assert.Throws<ModelLoadException>(() => GptModel.Load(dir.Path), $"truncated to {length} bytes");
        }

        for (var i = 0; i < 5; i++)
        {
            using var dir = new TempDirectory();
            var noise = new byte[random.Next(1, 10_000)];
            random.NextBytes(noise);
            File.WriteAllBytes(dir.File("model.onnx"), noise);
            Assert.Throws<ModelLoadException>(() => GptModel.Load(dir.Path), $"{noise.Length} random bytes");
        }
    }

    [Test]
    public void Random_hub_layouts_and_variants_give_only_documented_exceptions()
    {
        // Graph names of every scheme, real graphs (linked), noise and empty files, in the root or in onnx/, and
        // hostile variant names: resolution either loads a graph or says why with a ModelLoadException (an
        // ArgumentException when the variant itself is malformed).
        string[] names = ["model.onnx", "model_fp16.onnx", "model_q4.onnx", "model_external.onnx", "decoder_model_merged.onnx", "decoder_model_merged_int8.onnx", "decoder_model.onnx", "decoder_with_past_model.onnx", "weird name.onnx", "model_.onnx", "model.onnx_data"];
        string?[] variants = [null, "fp32", "fp16", "q4", "external", "int8", "merged", "", " ", "../model", "model_q4.onnx", "weird name", "_", "FP16", new string('x', 300)];
        var random = new Random(20261201);
        var hub = Path.Combine(TestPaths.Hub("qwen3"), "onnx");
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        var outcomes = new Dictionary<string, int>();
        var iterations = 0;
        for (; iterations < 80 && DateTime.UtcNow < deadline; iterations++)
        {
            using var dir = new TempDirectory();
            File.Copy(Path.Combine(TestPaths.Hub("qwen3"), "config.json"), dir.File("config.json"));
            var graphs = random.Next(2) == 0 ? dir.Path : Directory.CreateDirectory(dir.File("onnx")).FullName;
            foreach (var name in names.Where(_ => random.Next(3) == 0))
            {
                var target = Path.Combine(graphs, name);
                switch (random.Next(3))
                {
                    case 0:
                        var real = new[] { "model.onnx", "model_fp16.onnx", "model_q4.onnx", "model_external.onnx" }[random.Next(4)];
                        File.CreateSymbolicLink(target, Path.Combine(hub, real));
                        break;
                    case 1:
                        var noise = new byte[random.Next(0, 300)];
                        random.NextBytes(noise);
                        File.WriteAllBytes(target, noise);
                        break;
                    default:
                        File.WriteAllBytes(target, []);
                        break;
                }
            }

            var variant = variants[random.Next(variants.Length)];
            string outcome;
            try
            {
                using var model = GptModel.Load(new GptOptions { ModelPath = dir.Path, Variant = variant });
                outcome = "loaded";
            }
            catch (ModelLoadException)
            {
                outcome = nameof(ModelLoadException);
            }
            catch (ArgumentException) when (variant is not null)
            {
                outcome = nameof(ArgumentException);
            }
            catch (Exception ex)
            {
                Assert.Fail($"variant '{variant}', files {string.Join(", ", Directory.GetFiles(graphs).Select(Path.GetFileName))}: {ex.GetType().Name}: {ex.Message}");
                throw;
            }

            outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;
        }

        TestContext.Out.WriteLine($"{iterations} layouts: " + string.Join(", ", outcomes.Select(o => $"{o.Key} x{o.Value}")));
        Assert.That(outcomes.Keys, Is.SupersetOf(new[] { "loaded", nameof(ModelLoadException) }), "the layouts reach both outcomes");
    }

    private static async Task<string> LoadAndGenerate(string path, string mutation)
    {
        GptModel model;
        try
        {
            model = GptModel.Load(path);
        }
        catch (ModelLoadException)
        {
            return "ModelLoadException";
        }
        catch (Exception ex)
        {
            Assert.Fail($"{mutation}: loading threw {ex.GetType().Name}: {ex.Message}");
            throw;
        }

        using (model)
        {
            try
            {
                var prompt = model.Tokenizer is null ? GptPrompt.FromTokenIds([1, 2]) : GptPrompt.FromText("ROMEO:");
                await GptGenerator.Create(model).GenerateAsync(prompt, new GenerationOptions { MaxNewTokens = 4, Seed = 1 });
                return "loaded";
            }
            catch (Exception ex) when (ex is PromptTooLongException or ArgumentException or GptException)
            {
                return "generation: " + (ex is ArgumentOutOfRangeException ? nameof(ArgumentOutOfRangeException) : ex is ArgumentException ? nameof(ArgumentException) : ex is PromptTooLongException ? nameof(PromptTooLongException) : nameof(GptException));
            }
            catch (Exception ex)
            {
                Assert.Fail($"{mutation}: generation threw {ex.GetType().Name}: {ex.Message}");
                throw;
            }
        }
    }

    private static string Mutate(TempDirectory dir, Random random)
    {
        var file = dir.File(SmallFiles[random.Next(SmallFiles.Length)]);
        var name = Path.GetFileName(file);
        var text = File.ReadAllText(file);
        switch (random.Next(6))
        {
            case 0:
                var noise = new byte[random.Next(0, 200)];
                random.NextBytes(noise);
                File.WriteAllBytes(file, noise);
                return $"{name}: {noise.Length} random bytes";
            case 1:
                File.WriteAllText(file, text[..random.Next(text.Length)]);
                return $"{name}: truncated";
            case 2:
                File.Delete(file);
                return $"{name}: deleted";
            case 3:
                // Replace a number with a hostile one: negative, zero, huge, fractional.
                string[] numbers = ["-1", "0", "99999999999", "2147483647", "1e30", "0.5", "null", "\"x\"", "[]", "{}"];
                var replaced = ReplaceRandom(text, random, c => char.IsDigit(c), numbers[random.Next(numbers.Length)]);
                File.WriteAllText(file, replaced);
                return $"{name}: a number replaced";
            case 4:
                var bytes = Encoding.UTF8.GetBytes(text);
                for (var i = 0; i < 1 + random.Next(5) && bytes.Length > 0; i++)
                {
                    bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
                }

                File.WriteAllBytes(file, bytes);
                return $"{name}: bytes flipped";
            default:
                File.WriteAllText(file, "{}");
                return $"{name}: empty object";
        }
    }

    private static string ReplaceRandom(string text, Random random, Func<char, bool> isTarget, string replacement)
    {
        var positions = Enumerable.Range(0, text.Length).Where(i => isTarget(text[i]) && (i == 0 || !isTarget(text[i - 1]))).ToList();
        if (positions.Count == 0)
        {
            return text;
        }

        var start = positions[random.Next(positions.Count)];
        var end = start;
        while (end < text.Length && (isTarget(text[end]) || text[end] == '.'))
        {
            end++;
        }

        return text[..start] + replacement + text[end..];
    }
}
