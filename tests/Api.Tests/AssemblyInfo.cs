// The tests train real networks on two shared cores; running classes one at a time keeps timings sane.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
