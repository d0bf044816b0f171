namespace Engine.Serialization;

/// <summary>A layer of the network has no ONNX operator mapping; names the layer so the API can answer 4xx with it.</summary>
public sealed class OnnxMappingException(int layerIndex, string layerType)
    : NotSupportedException($"layers[{layerIndex}] ({layerType}) has no ONNX mapping.")
{
    public int LayerIndex { get; } = layerIndex;
    public string LayerType { get; } = layerType;
}
