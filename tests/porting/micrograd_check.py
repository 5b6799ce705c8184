# After karpathy/micrograd, test/test_engine.py: the PyTorch half of its checks, which micrograd
# compares its Value engine against: legacy torch.Tensor([...]).double() leaves given
# requires_grad = True by assignment, relu, reflected operators (2 * x, 10.0 / f, -a), powers,
# backward() of one-element results, .data.item() and .grad.item(), and the unbound methods
# torch.Tensor.tanh and torch.Tensor.exp. micrograd asserts; this prints the values it compares.
import torch


def test_sanity_check():

    x = torch.Tensor([-4.0]).double()
    x.requires_grad = True
    z = 2 * x + 2 + x
    q = z.relu() + z * x
    h = (z * z).relu()
    y = h + q + q * x
    y.backward()
    xpt, ypt = x, y

    # forward pass went well
    print("sanity forward", ypt.data.item())
    # backward pass went well
    print("sanity backward", xpt.grad.item())


def test_more_ops():

    a = torch.Tensor([-4.0]).double()
    b = torch.Tensor([2.0]).double()
    a.requires_grad = True
    b.requires_grad = True
    c = a + b
    d = a * b + b**3
    c = c + c + 1
    c = c + 1 + c + (-a)
    d = d + d * 2 + (b + a).relu()
    d = d + 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g = g + 10.0 / f
    g.backward()
    apt, bpt, gpt = a, b, g

    # forward pass went well
    print("more ops forward", gpt.data.item())
    # backward pass went well
    print("more ops backward", apt.grad.item(), bpt.grad.item())


def test_unary_tensor_fns():
    def test_unary_tensor_fn(tensor_fn, xs):
        for x in xs:
            xt = torch.Tensor([x]).double()
            xt.requires_grad = True
            yt = tensor_fn(xt)
            yt.backward()

            # forward and backward pass
            print(tensor_fn.__name__, x, yt.data.item(), xt.grad.item())

    test_unary_tensor_fn(torch.Tensor.tanh, [-1.0, 0.123, 2.0])
    test_unary_tensor_fn(torch.Tensor.exp, [-1.0, 0.123, 2.0])


test_sanity_check()
test_more_ops()
test_unary_tensor_fns()
