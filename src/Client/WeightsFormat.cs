namespace TrainingService.Client;

/// <summary>File formats of <c>GET /jobs/{id}/weights</c>.</summary>
public enum WeightsFormat
{
    /// <summary>safetensors: float32 tensors with the job's metadata (PyTorch, NumPy).</summary>
    SafeTensors,
    /// <summary>JSON: tensor names, shapes and values.</summary>
    Json,
    /// <summary>ONNX: the network as an inference graph (onnxruntime).</summary>
    Onnx,
}
