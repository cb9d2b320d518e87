import torch

from beam_predictor.model.alignment import info_nce, l2_normalise, similarity_matrix


def test_similarity_is_cosine():
    a = torch.tensor([[3.0, 4.0], [1.0, 0.0]])
    b = torch.tensor([[6.0, 8.0], [0.0, 2.0]])
    s = similarity_matrix(a, b)
    torch.testing.assert_close(s, torch.tensor([[1.0, 0.8], [0.6, 0.0]]))
    torch.testing.assert_close(l2_normalise(a).norm(dim=1), torch.ones(2))


def test_info_nce_prefers_aligned_modalities():
    torch.manual_seed(0)
    x = torch.randn(32, 16)
    aligned = torch.stack([x, x + 0.01 * torch.randn_like(x)], dim=1)
    shuffled = torch.stack([x, x[torch.randperm(32)]], dim=1)
    missing = torch.zeros(32, 2, dtype=torch.bool)
    assert info_nce(aligned, missing, 0.1) < 0.1 < info_nce(shuffled, missing, 0.1)


def test_info_nce_skips_missing_pairs():
    x = torch.randn(8, 3, 4, requires_grad=True)
    missing = torch.zeros(8, 3, dtype=torch.bool)
    missing[:, 2] = True                                 # modality 2 silent: only pair (0, 1) counts
    full = info_nce(x, missing, 0.5)
    only01 = info_nce(x[:, :2], missing[:, :2], 0.5)
    torch.testing.assert_close(full, only01)
    assert info_nce(x, torch.ones(8, 3, dtype=torch.bool), 0.5).item() == 0.0


def test_same_pass_neighbours_are_not_negatives():
    torch.manual_seed(0)
    x = torch.randn(6, 16)
    x[1] = x[0]                                          # one frame twice (overlapping windows)
    x[3] = x[2] + 0.01 * torch.randn(16)                 # its next frame looks alike
    feats = torch.stack([x, x], dim=1)
    missing = torch.zeros(6, 2, dtype=torch.bool)
    seq = torch.tensor([1, 1, 2, 2, 3, 4])
    frame = torch.tensor([10, 10, 20, 21, 30, 40])
    naive = info_nce(feats, missing, 0.1)
    fair = info_nce(feats, missing, 0.1, seq, frame, span=8)
    # the look-alikes as negatives cost about log 2 each; left out, the aligned pairs cost ~0
    assert naive > 0.4 and fair < 0.05
    # far enough apart (beyond the span), the same pass counts as negatives again
    far = torch.tensor([10, 100, 20, 200, 30, 40])
    torch.testing.assert_close(info_nce(feats, missing, 0.1, seq, far, span=8), naive)
