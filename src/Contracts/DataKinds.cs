using System.Text.Json.Serialization;

namespace TrainingService.Contracts;

/// <summary>Generators of <c>POST /datasets/synthetic</c>.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<SyntheticKind>))]
public enum SyntheticKind
{
    /// <summary>Two classes at the corners of the unit square, label = x₀ XOR x₁.</summary>
    [JsonStringEnumMemberName("xor")] Xor,
    /// <summary>k interleaved spiral arms (the CS231n set).</summary>
    [JsonStringEnumMemberName("spirals")] Spirals,
    /// <summary>Two interleaving half circles (scikit-learn's make_moons).</summary>
    [JsonStringEnumMemberName("moons")] Moons,
    /// <summary>k isotropic Gaussian clusters.</summary>
    [JsonStringEnumMemberName("blobs")] Blobs,
    /// <summary>y = x·w + b + noise with a random linear teacher.</summary>
    [JsonStringEnumMemberName("regression")] Regression,
    /// <summary>One-channel 16×16 images of stripes, the class their orientation (horizontal, vertical, the two diagonals).</summary>
    [JsonStringEnumMemberName("stripes")] Stripes,
}

/// <summary>How a data set's inputs are normalized when a job trains on it (and when it predicts).</summary>
public enum NormalizationKind { None, Scale, Standardize }
