using Dreamer.Torch.NN;

namespace Dreamer.Torch.Tests;

/// <summary>The C# twin of the model in data/make_reference.py (same parameter names).</summary>
internal sealed class ReferenceModel : Module
{
    public const long D = 32, H = 4, Hkv = 2, Dh = 8, Hidden = 64, V = 16, T = 8;

    public ReferenceModel(ParamOptions options = default)
    {
        Embed = RegisterModule("embed", new Embedding(V, D, options));
        Blocks = RegisterModule("blocks", new ModuleList<Block>([new Block(options), new Block(options)]));
        Norm = RegisterModule("norm", new RMSNorm(D, 1e-6, options));
        Head = RegisterModule("head", new Linear(D, V, bias: true, options));
        // Block 0: 1-D RoPE over positions; block 1: axial RoPE over a 2x4 grid.
        Ropes = [Rope.Create1D([0, 1, 2, 3, 4, 5, 6, 7], Dh, dtype: options.DType ?? DType.Float32), Rope.CreateGrid(2, 4, Dh, dtype: options.DType ?? DType.Float32)];
        Mask = Attention.CausalMask(T).DetachFromScopes();
    }

    public Embedding Embed { get; }
    public ModuleList<Block> Blocks { get; }
    public RMSNorm Norm { get; }
    public Linear Head { get; }
    public Rope[] Ropes { get; }
    public Tensor Mask { get; }

    public Tensor Forward(Tensor tokens)
    {
        using var scope = Torch.NewDisposeScope();
        var x = Embed.Forward(tokens);
        for (var i = 0; i < Blocks.Count; i++) x = Blocks[i].Forward(x, Mask, Ropes[i]);
        return scope.Keep(Head.Forward(Norm.Forward(x)));
    }

    public Tensor Loss(Tensor tokens, Tensor targets)
    {
        using var scope = Torch.NewDisposeScope();
        var logits = Forward(tokens);
        return scope.Keep(Torch.CrossEntropy(logits.Reshape(-1, V), targets.Reshape(-1)));
    }

    internal sealed class Block : Module
    {
        public Block(ParamOptions options)
        {
            Norm1 = RegisterModule("norm1", new RMSNorm(D, 1e-6, options));
            Attn = RegisterModule("attn", new Attention(D, H, Hkv, Dh, qkNorm: true, softCap: 5.0, options: options));
            Norm2 = RegisterModule("norm2", new RMSNorm(D, 1e-6, options));
            Mlp = RegisterModule("mlp", new SwiGluMlp(D, Hidden, bias: false, options));
        }

        public RMSNorm Norm1 { get; }
        public Attention Attn { get; }
        public RMSNorm Norm2 { get; }
        public SwiGluMlp Mlp { get; }

        public Tensor Forward(Tensor x, Tensor mask, Rope rope)
        {
            using var scope = Torch.NewDisposeScope();
            x = x + Attn.Forward(Norm1.Forward(x), mask, rope);
            x = x + Mlp.Forward(Norm2.Forward(x));
            return scope.Keep(x);
        }
    }
}
