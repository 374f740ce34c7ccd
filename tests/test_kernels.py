"""Micro-batched first-order compute equals whole-batch compute; compilation falls back cleanly."""

import torch
import torch.nn.functional as F

from condensation.kernels import Kernels, default_micro_batch
from condensation.models import build_model
from condensation.rng import make_generator


def net_and_batch(n=40, name="convnetw32"):
    net = build_model(name, channels=1, image_size=(16, 16), num_classes=3, generator=make_generator(0))
    x = torch.randn(n, 1, 16, 16, generator=make_generator(1))
    y = torch.randint(0, 3, (n,), generator=make_generator(2))
    return net, x, y


def test_micro_batched_gradient_equals_the_whole_batch_gradient():
    net, x, y = net_and_batch(40)  # 40 = 3 micro-batches of 16 (16, 16, 8)
    params = list(net.parameters())
    whole = torch.autograd.grad(F.cross_entropy(net(x), y), params)
    chunked = Kernels(micro_batch=16).grad(net, x, y, params)
    for a, b in zip(whole, chunked):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_micro_batched_backward_accumulates_the_same_gradient_and_loss():
    net, x, y = net_and_batch(40)
    loss = F.cross_entropy(net(x), y)
    loss.backward()
    whole = [p.grad.clone() for p in net.parameters()]
    net.zero_grad()
    chunked_loss = Kernels(micro_batch=16).backward(net, x, y)
    torch.testing.assert_close(chunked_loss, loss.detach(), rtol=1e-5, atol=1e-6)
    for a, p in zip(whole, net.parameters()):
        torch.testing.assert_close(a, p.grad, rtol=1e-4, atol=1e-6)


def test_predict_in_micro_batches_matches_one_call():
    net, x, _ = net_and_batch(37)
    with torch.inference_mode():
        torch.testing.assert_close(Kernels(micro_batch=8).predict(net.eval(), x), net(x))


def test_default_micro_batch_is_cpu_only():
    assert default_micro_batch("cpu") == 32
    assert default_micro_batch("cuda") is None


def test_shared_instances_per_setting():
    assert Kernels.for_mode("off", True, 32) is Kernels.for_mode("auto", False, 32)
    assert Kernels.for_mode("on", False, 32).compile
    assert not Kernels.for_mode("auto", False, None).compile


def test_compile_failure_falls_back_to_eager_with_one_warning(monkeypatch, capsys):
    def broken(fn, **kwargs):
        def raises(*args):
            raise RuntimeError("no C++ compiler found")
        return raises

    monkeypatch.setattr(torch, "compile", broken)
    k = Kernels(compile=True, micro_batch=None)
    net, x, y = net_and_batch(8)
    expected = F.cross_entropy(net(x), y)
    torch.testing.assert_close(k.loss(net, x, y), expected)
    torch.testing.assert_close(k.loss(net, x, y), expected)
    err = capsys.readouterr().err
    assert err.count("torch.compile failed") == 1 and "eager" in err
