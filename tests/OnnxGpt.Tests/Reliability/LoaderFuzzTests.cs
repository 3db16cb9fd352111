using System.Text;
using OnnxGpt.Generation;
using OnnxGpt.Models;

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
