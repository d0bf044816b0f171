using Engine.Data;
using Engine.Specs;
using Engine.Training;

namespace Engine.Tests.Training;

public class DataOrderTests
{
    [Fact]
    public void DataOrderDependsOnTheSeedNotOnInitializationOrDropout()
    {
        // Variations of one experiment draw different numbers of random values for their weights and masks;
        // the data order must not move with them, or the comparison is not like for like.
        var data = SyntheticData.Generate(SyntheticKind.Blobs, 200, 3, seed: 5);
        var options = new TrainingOptions(new OptimizerSpec(OptimizerKind.Sgd, 0.1f), Epochs: 3, BatchSize: 16, Seed: 9, ValidationSplit: 0.2f);
        LayerSpec[][] variations =
        [
            [new DenseSpec(16), new ReluSpec(), new DenseSpec(3)],
            [new DenseSpec(16, InitKind.XavierUniform), new TanhSpec(), new DenseSpec(3, InitKind.XavierUniform)],
            [new DenseSpec(32), new BatchNormSpec(), new ReluSpec(), new DropoutSpec(0.5f), new DenseSpec(3)],
        ];

        var orders = variations.Select(layers =>
        {
            var session = TrainingSession.Create(new ModelSpec([2], layers, LossKind.SoftmaxCrossEntropy), options, data);
            var perEpoch = new List<int[]>();
            for (int e = 0; e < 3; e++)
            {
                session.RunEpoch();
                perEpoch.Add(session.EpochOrder.ToArray());
            }
            return perEpoch;
        }).ToList();

        foreach (var other in orders.Skip(1))
            for (int e = 0; e < 3; e++) Assert.Equal(orders[0][e], other[e]);
        Assert.NotEqual(orders[0][0], orders[0][1]); // each epoch is reshuffled
        var reseeded = TrainingSession.Create(new ModelSpec([2], variations[0], LossKind.SoftmaxCrossEntropy), options with { Seed = 10 }, data);
        reseeded.RunEpoch();
        Assert.NotEqual(orders[0][0], reseeded.EpochOrder.ToArray());
    }
}
