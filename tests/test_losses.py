"""Each loss against a plain, loop-by-loop reference on small tensors; NT-Xent under 2-process DDP."""

from __future__ import annotations

import math

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

from gaitreid.losses import NTXentLoss, PartCrossEntropyLoss, TripletLoss


# ---------------------------------------------------------------- references written plainly
def ntxent_reference(z1: torch.Tensor, z2: torch.Tensor, tau: float) -> torch.Tensor:
    n = z1.shape[0]
    views = [z1[i] / z1[i].norm() for i in range(n)] + [z2[i] / z2[i].norm() for i in range(n)]
    total = 0.0
    for i in range(2 * n):
        partner = (i + n) % (2 * n)
        numerator = torch.exp(torch.dot(views[i], views[partner]) / tau)
        denominator = sum(torch.exp(torch.dot(views[i], views[k]) / tau) for k in range(2 * n) if k != i)
        total = total - torch.log(numerator / denominator)
    return total / (2 * n)


def triplet_reference(emb: torch.Tensor, labels: list[int], margin: float, mining: str) -> float:
    n, _, p = emb.shape
    part_losses = []
    for j in range(p):
        d = [[float(torch.norm(emb[a, :, j] - emb[b, :, j])) for b in range(n)] for a in range(n)]
        terms = []
        for a in range(n):
            positives = [b for b in range(n) if b != a and labels[b] == labels[a]]
            negatives = [b for b in range(n) if labels[b] != labels[a]]
            if mining == "batch_hard":
                if positives and negatives:
                    terms.append(max(0.0, margin + max(d[a][b] for b in positives) - min(d[a][b] for b in negatives)))
            else:
                for pos in positives:
                    for neg in negatives:
                        terms.append(max(0.0, margin + d[a][pos] - d[a][neg]))
        if mining == "batch_hard":
            part_losses.append(sum(terms) / len(terms))
        else:
            active = [t for t in terms if t > 0]
            part_losses.append(sum(active) / len(active) if active else 0.0)
    return sum(part_losses) / p


def cross_entropy_reference(logits: torch.Tensor, labels: list[int], eps: float) -> float:
    n, k, p = logits.shape
    total = 0.0
    for j in range(p):
        for i in range(n):
            row = [float(v) for v in logits[i, :, j]]
            top = max(row)
            log_z = top + math.log(sum(math.exp(v - top) for v in row))
            for c in range(k):
                target = (1 - eps) * (c == labels[i]) + eps / k
                total -= target * (row[c] - log_z)
    return total / (n * p)


# ---------------------------------------------------------------- NT-Xent
@pytest.mark.parametrize("tau", [0.1, 0.5])
def test_ntxent_matches_reference_in_value_and_gradient(tau):
    g = torch.Generator().manual_seed(0)
    z1 = torch.randn(5, 7, generator=g, dtype=torch.float64, requires_grad=True)
    z2 = torch.randn(5, 7, generator=g, dtype=torch.float64, requires_grad=True)
    loss, stats = NTXentLoss(tau)(z1, z2)
    grads = torch.autograd.grad(loss, (z1, z2))
    reference = ntxent_reference(z1, z2, tau)
    ref_grads = torch.autograd.grad(reference, (z1, z2))
    assert loss.item() == pytest.approx(reference.item(), rel=1e-5)
    for got, want in zip(grads, ref_grads):
        torch.testing.assert_close(got.double(), want, rtol=1e-4, atol=1e-6)
    assert stats["loss"] == pytest.approx(reference.item(), rel=1e-5)
    assert -1.0 <= stats["positive_cosine"] <= 1.0 and 0.0 <= stats["accuracy"] <= 1.0


def test_ntxent_identical_views_are_easy():
    z = torch.randn(6, 16, generator=torch.Generator().manual_seed(1))
    loss_same, stats = NTXentLoss(0.1)(z, z.clone())
    loss_random, _ = NTXentLoss(0.1)(z, torch.randn(6, 16, generator=torch.Generator().manual_seed(2)))
    assert stats["accuracy"] == 1.0 and stats["positive_cosine"] == pytest.approx(1.0, abs=1e-5)
    assert loss_same < loss_random


def _ntxent_ddp_worker(rank: int, world: int, init_file: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        tau = 0.2
        for local_sizes in ([4, 4], [3, 5]):  # equal, then unequal per-rank batches
            g = torch.Generator().manual_seed(sum(local_sizes))
            full1 = torch.randn(sum(local_sizes), 6, generator=g, dtype=torch.float64)
            full2 = torch.randn(sum(local_sizes), 6, generator=g, dtype=torch.float64)
            # single-process reference on the concatenated batch (plain loops, no torch.distributed)
            ref1, ref2 = full1.clone().requires_grad_(), full2.clone().requires_grad_()
            reference = ntxent_reference(ref1, ref2, tau)
            ref_grad1, ref_grad2 = torch.autograd.grad(reference, (ref1, ref2))
            start = sum(local_sizes[:rank])
            local = slice(start, start + local_sizes[rank])
            z1 = full1[local].clone().requires_grad_()
            z2 = full2[local].clone().requires_grad_()
            loss, _ = NTXentLoss(tau)(z1, z2)
            loss.backward()
            assert abs(loss.item() - reference.item()) < 1e-5, (loss.item(), reference.item())
            # DDP averages over ranks, so each rank carries world x its share of the full gradient
            torch.testing.assert_close(z1.grad.double() / world, ref_grad1[local], rtol=1e-4, atol=1e-6)
            torch.testing.assert_close(z2.grad.double() / world, ref_grad2[local], rtol=1e-4, atol=1e-6)
    finally:
        dist.destroy_process_group()


def test_ntxent_gathers_negatives_across_two_processes(tmp_path):
    mp.spawn(_ntxent_ddp_worker, args=(2, str(tmp_path / "rendezvous")), nprocs=2, join=True)


# ---------------------------------------------------------------- triplet
LABELS = [0, 0, 1, 1, 1, 2, 3]  # identity 3 has no positive: never an anchor in batch-hard


@pytest.mark.parametrize("mining", ["batch_hard", "batch_all"])
@pytest.mark.parametrize("margin", [0.2, 3.0])
def test_triplet_matches_reference(mining, margin):
    emb = torch.randn(len(LABELS), 4, 3, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    loss, stats = TripletLoss(margin, mining)(emb, torch.tensor(LABELS))
    assert loss.item() == pytest.approx(triplet_reference(emb, LABELS, margin, mining), rel=1e-6, abs=1e-9)
    assert stats["active"] > 0 and 0 < stats["active_fraction"] <= 1
    assert stats["mean_distance"] > 0


def test_triplet_counts_active_batch_all_triplets():
    # 1-D embeddings on a line: a=0 (label 0), pos=0.5 (label 0), negatives at 0.6 and 10 (label 1)
    emb = torch.tensor([[0.0], [0.5], [0.6], [10.0]]).reshape(4, 1, 1)
    loss, stats = TripletLoss(margin=0.2, mining="batch_all")(emb, torch.tensor([0, 0, 1, 1]))
    # active: (0,1,2): 0.2+0.5-0.6=0.1 ; (1,0,2): 0.2+0.5-0.1=0.6 ; (2,3,1): 0.2+9.4-0.1=9.5 ;
    # (2,3,0): 0.2+9.4-0.6=9.0 ; (3,2,1): 0.2+9.4-9.5=0.1 ; the other 3 of 8 are inactive
    assert stats["active"] == 5 and stats["active_fraction"] == pytest.approx(5 / 8)
    assert loss.item() == pytest.approx((0.1 + 0.6 + 9.5 + 9.0 + 0.1) / 5, rel=1e-5)


def test_triplet_gradient_flows_and_no_nan_with_duplicates():
    emb = torch.randn(6, 8, 2, generator=torch.Generator().manual_seed(4))
    emb = torch.cat([emb, emb[:2]]).requires_grad_()  # exact duplicates: zero distances
    for mining in ("batch_hard", "batch_all"):
        loss, _ = TripletLoss(0.3, mining)(emb, torch.tensor([0, 0, 1, 1, 2, 2, 0, 0]))
        (grad,) = torch.autograd.grad(loss, emb)
        assert torch.isfinite(grad).all() and grad.abs().sum() > 0


def test_triplet_without_usable_anchor_is_zero():
    emb = torch.randn(3, 4, 2, requires_grad=True)
    loss, stats = TripletLoss(0.2, "batch_hard")(emb, torch.tensor([0, 1, 2]))
    assert loss.item() == 0.0 and stats["active"] == 0
    loss.backward()


# ---------------------------------------------------------------- cross-entropy
@pytest.mark.parametrize("eps", [0.0, 0.1])
def test_part_cross_entropy_matches_reference(eps):
    logits = torch.randn(5, 4, 3, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    labels = [0, 3, 1, 1, 2]
    loss, stats = PartCrossEntropyLoss(eps)(logits, torch.tensor(labels))
    assert loss.item() == pytest.approx(cross_entropy_reference(logits, labels, eps), rel=1e-6)
    expected_accuracy = sum(int(logits[i, :, j].argmax()) == labels[i] for i in range(5) for j in range(3)) / 15
    assert stats["accuracy"] == pytest.approx(expected_accuracy)


def test_losses_reject_wrong_shapes():
    with pytest.raises(ValueError, match="logits"):
        PartCrossEntropyLoss()(torch.zeros(2, 3), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match="embeddings"):
        TripletLoss()(torch.zeros(2, 3), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match="views"):
        NTXentLoss()(torch.zeros(2, 3), torch.zeros(3, 3))
    with pytest.raises(ValueError, match="mining"):
        TripletLoss(mining="hardest")
