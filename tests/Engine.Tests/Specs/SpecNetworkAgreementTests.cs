using System.Text;
using Engine.Data;
using Engine.Specs;
using Engine.Tensors;

namespace Engine.Tests.SpecValidation;

public class SpecNetworkAgreementTests
{
    public static TheoryData<ModelSpec> Specs() => new()
    {
        new ModelSpec([784], [new DenseSpec(256), new ReluSpec(), new BatchNormSpec(), new DropoutSpec(0.2f), new DenseSpec(10)], LossKind.SoftmaxCrossEntropy),
        new ModelSpec([1, 8, 8], [new BatchNormSpec(), new DenseSpec(5, InitKind.Normal, 0.1f), new TanhSpec(), new DenseSpec(3)], LossKind.Mse),
        new ModelSpec([3], [new DenseSpec(7), new LeakyReluSpec(0.1f), new DenseSpec(1)], LossKind.SigmoidBinaryCrossEntropy),
    };

    [Theory]
    [MemberData(nameof(Specs))]
    public void ReportedParametersAndWidthMatchTheBuiltNetwork(ModelSpec spec)
    {
        var report = SpecValidator.Validate(spec);
        var network = Network.Create(spec, new Rng(1));
        Assert.True(report.IsValid);
        Assert.Equal(network.Parameters.Sum(p => (long)p.Value.Length), report.TotalParameters);
        Assert.Equal(network.OutputWidth, report.OutputWidth);
        Assert.Equal(network.Buffers.Sum(b => 4L * b.Value.Length), report.BufferBytes);
    }

    [Fact]
    public void ALoadedCsvIsCheckedAgainstTheSpec()
    {
        var csv = CsvLoader.Load(new MemoryStream(Encoding.UTF8.GetBytes("a,b,c\n1,2,0\n3,4,2\n")), new CsvOptions());
        var fits = new ModelSpec([2], [new DenseSpec(3)], LossKind.SoftmaxCrossEntropy);
        Assert.Empty(SpecValidator.CheckDataset(fits, csv));
        var tooNarrow = new ModelSpec([2], [new DenseSpec(2)], LossKind.SoftmaxCrossEntropy);
        Assert.Equal("loss", Assert.Single(SpecValidator.CheckDataset(tooNarrow, csv)).Path);
    }
}
