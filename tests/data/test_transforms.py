import numpy as np
import pytest

import ember
from ember.data import transforms as T
from ember.data import to_categorical
from ember.tensor import Tensor


def _img(c=3, h=6, w=6):
    return np.arange(c * h * w, dtype=np.float32).reshape(c, h, w)


def test_to_tensor_single_and_batch():
    hwc = np.zeros((4, 5, 3), dtype=np.uint8)
    hwc[1, 2] = [255, 51, 0]
    out = T.ToTensor()(hwc)
    assert out.shape == (3, 4, 5) and out.dtype == np.float32
    np.testing.assert_allclose(out[:, 1, 2], [1.0, 0.2, 0.0], rtol=1e-6)
    assert T.ToTensor()(np.zeros((4, 5), np.uint8)).shape == (1, 4, 5)
    batch = np.zeros((2, 4, 5, 3), dtype=np.uint8)
    assert T.ToTensor()(batch).shape == (2, 3, 4, 5)
    assert T.ToTensor()(np.zeros((7, 4, 5), np.uint8), batched=True).shape == (7, 1, 4, 5)
    with pytest.raises(ValueError, match="HW or HWC"):
        T.ToTensor()(np.zeros(5, np.uint8))


def test_to_tensor_keeps_ember_tensor_type():
    out = T.ToTensor()(Tensor(np.full((2, 2, 1), 255, np.uint8)))
    assert isinstance(out, Tensor) and out.data.shape == (1, 2, 2)


def test_normalize_values_single_and_batch():
    x = np.stack([np.full((2, 2), 1.0), np.full((2, 2), 3.0)]).astype(np.float32)
    out = T.Normalize(mean=[1.0, 1.0], std=[1.0, 0.5])(x)
    np.testing.assert_allclose(out[0], 0.0)
    np.testing.assert_allclose(out[1], 4.0)
    batch = np.stack([x, x])
    np.testing.assert_allclose(T.Normalize([1.0, 1.0], [1.0, 0.5])(batch)[1], out)
    with pytest.raises(ValueError, match="3 values but the image has 2 channels"):
        T.Normalize([0, 0, 0], [1, 1, 1])(x)


def test_horizontal_flip_known_values_and_probability():
    x = _img(1, 2, 3)
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1.0)(x), x[:, :, ::-1])
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=0.0)(x), x)
    np.testing.assert_array_equal(T.RandomVerticalFlip(p=1.0)(x), x[:, ::-1])
    batch = np.stack([x] * 200)
    out = T.RandomHorizontalFlip(p=0.5)(batch)
    flipped = np.all(out == x[:, :, ::-1], axis=(1, 2, 3))
    kept = np.all(out == x, axis=(1, 2, 3))
    assert np.all(flipped | kept) and 60 < flipped.sum() < 140


def test_random_crop_with_padding_position():
    x = _img(2, 4, 4) + 1  # no zeros inside the image
    out = T.RandomCrop(4, padding=2)(x)
    assert out.shape == (2, 4, 4)
    padded = np.pad(x, ((0, 0), (2, 2), (2, 2)))
    matches = [(i, j) for i in range(5) for j in range(5)
               if np.array_equal(padded[:, i:i + 4, j:j + 4], out)]
    assert len(matches) == 1
    # a batch: every crop is some window of its own padded image, windows vary
    batch = np.stack([x] * 30)
    outs = T.RandomCrop(4, padding=2)(batch)
    positions = set()
    for o in outs:
        pos = [(i, j) for i in range(5) for j in range(5) if np.array_equal(padded[:, i:i + 4, j:j + 4], o)]
        assert len(pos) == 1
        positions.add(pos[0])
    assert len(positions) > 5


def test_random_crop_too_large():
    with pytest.raises(ValueError, match="larger than"):
        T.RandomCrop(10)(_img())


def test_center_crop_and_resize():
    x = _img(1, 4, 4)
    np.testing.assert_array_equal(T.CenterCrop(2)(x), x[:, 1:3, 1:3])
    up = T.Resize(8, interpolation="nearest")(x)
    np.testing.assert_array_equal(up, x.repeat(2, axis=1).repeat(2, axis=2))
    down = T.Resize(2)(x)  # bilinear 2x down: mean of each 2x2 block
    np.testing.assert_allclose(down[0], x[0].reshape(2, 2, 2, 2).mean(axis=(1, 3)))


def test_random_resized_crop_identity_case_and_shapes():
    x = _img(3, 8, 8)
    same = T.RandomResizedCrop(8, scale=(1.0, 1.0), ratio=(1.0, 1.0))(x)
    np.testing.assert_allclose(same, x, atol=1e-5)
    out = T.RandomResizedCrop((5, 7))(np.stack([x] * 4))
    assert out.shape == (4, 3, 5, 7)
    assert out.min() >= x.min() - 1e-4 and out.max() <= x.max() + 1e-4  # interpolation stays in range


def test_rotation_90_matches_rot90():
    x = _img(2, 5, 5)
    out = T.RandomRotation((90, 90))(x)
    np.testing.assert_array_equal(out, np.rot90(x, k=1, axes=(1, 2)))
    assert T.RandomRotation((0, 0))(np.stack([x, x])).shape == (2, 2, 5, 5)


def test_affine_translate_shifts_with_fill():
    x = _img(1, 4, 4) + 1
    from ember.data.transforms.affine import affine_sample
    shifted = affine_sample(x[None], np.zeros(1), np.ones(1), np.zeros(1), np.ones(1), "nearest", -1.0)[0]
    np.testing.assert_array_equal(shifted[:, :, 1:], x[:, :, :-1])  # tx=+1 moves content right
    np.testing.assert_array_equal(shifted[:, :, 0], -1.0)
    ember.manual_seed(0)
    moved = T.RandomAffine(0, translate=(0.5, 0), interpolation="nearest", fill=-1)(np.stack([x] * 20))
    assert (moved == -1).any() and moved.shape == (20, 1, 4, 4)
    ident = T.RandomAffine(0, scale=(1, 1))(x)
    np.testing.assert_allclose(ident, x, atol=1e-5)
    zoom = T.RandomAffine(0, scale=(2, 2), interpolation="bilinear")(np.ones((1, 4, 4), np.float32))
    np.testing.assert_allclose(zoom, 1.0, atol=1e-6)  # zoom-in of a constant image stays constant
    shrink = T.RandomAffine(0, scale=(0.5, 0.5), interpolation="nearest", fill=-1)(np.ones((1, 8, 8), np.float32))
    assert shrink[0, 0, 0] == -1 and shrink[0, 4, 4] == 1  # border filled, centre kept


def test_gaussian_noise_statistics_and_seed():
    x = np.zeros((4, 3, 32, 32), dtype=np.float32)
    ember.manual_seed(3)
    a = T.GaussianNoise(0.5)(x)
    ember.manual_seed(3)
    b = T.GaussianNoise(0.5)(x)
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32
    assert abs(a.std() - 0.5) < 0.02 and abs(a.mean()) < 0.02
    clipped = T.GaussianNoise(5.0, clip=(0, 1))(x)
    assert clipped.min() >= 0 and clipped.max() <= 1


def test_random_erasing_known_rectangle():
    x = np.ones((2, 8, 8), dtype=np.float32)
    out = T.RandomErasing(p=1.0, scale=(0.25, 0.25), ratio=(1.0, 1.0), value=0.0)(x)
    erased = out == 0
    assert erased.sum() == 2 * 16  # a 4x4 square in each channel
    rows, cols = np.nonzero(erased[0])
    assert rows.max() - rows.min() == 3 and cols.max() - cols.min() == 3
    np.testing.assert_array_equal(erased[0], erased[1])
    np.testing.assert_array_equal(T.RandomErasing(p=0.0)(x), x)
    per_channel = T.RandomErasing(p=1.0, value=(5.0, 7.0))(np.stack([x] * 3))
    assert set(np.unique(per_channel[:, 0])) <= {1.0, 5.0} and set(np.unique(per_channel[:, 1])) <= {1.0, 7.0}


def test_mixup_soft_labels():
    x = np.stack([np.full((1, 2, 2), i, np.float32) for i in range(6)])
    y = np.arange(6) % 3
    mix = T.Mixup(alpha=0.4, num_classes=3)
    xm, ym = mix(x, y)
    lam, perm = mix.last_lambda, mix.last_perm
    assert 0 <= lam <= 1
    np.testing.assert_allclose(xm[:, 0, 0, 0], lam * np.arange(6) + (1 - lam) * perm, rtol=1e-5)
    np.testing.assert_allclose(ym, lam * to_categorical(y, 3) + (1 - lam) * to_categorical(y[perm], 3), rtol=1e-6)
    np.testing.assert_allclose(ym.sum(axis=1), 1.0, rtol=1e-6)
    with pytest.raises(ValueError, match="num_classes"):
        T.Mixup()(x, y)


@pytest.mark.parametrize("make", [
    lambda: T.RandomCrop(6, padding=1), lambda: T.RandomResizedCrop(6), lambda: T.RandomRotation(30),
    lambda: T.RandomAffine(20, translate=(0.1, 0.1), scale=(0.9, 1.1)), lambda: T.GaussianNoise(0.1),
    lambda: T.RandomErasing(p=1.0), lambda: T.RandomHorizontalFlip()])
def test_random_transforms_deterministic_under_seed_and_passed_generator(make):
    x = np.random.default_rng(0).random((5, 3, 6, 6)).astype(np.float32)
    ember.manual_seed(11)
    a = make()(x)
    ember.manual_seed(11)
    b = make()(x)
    np.testing.assert_array_equal(a, b)
    assert a.shape[:2] == (5, 3)
    t = make()
    t.generator = np.random.default_rng(5)
    c = t(x)
    t.generator = np.random.default_rng(5)
    np.testing.assert_array_equal(c, t(x))


def test_compose_and_lambda_fallback():
    pipe = T.Compose([T.ToTensor(), T.Normalize([0.5], [0.5]), T.Lambda(lambda im: im * 2)])
    single = pipe(np.full((2, 2), 255, np.uint8))
    np.testing.assert_allclose(single, 2.0)
    assert not pipe.supports_batch
    batch = pipe(np.full((3, 2, 2), 255, np.uint8), batched=True)
    assert batch.shape == (3, 1, 2, 2)
    np.testing.assert_allclose(batch, 2.0)


def test_to_tensor_reads_a_grey_batch_as_a_batch():
    x = np.zeros((8, 28, 28), np.uint8)
    assert T.ToTensor()(x).shape == (8, 1, 28, 28)
    assert T.ToTensor()(np.zeros((28, 28, 3), np.uint8)).shape == (3, 28, 28)
    out = T.Compose([T.ToTensor(), T.RandomHorizontalFlip()])(x)
    assert out.shape == (8, 1, 28, 28)


# ---- layouts: channels-first tensors, HWC uint8 images from ImageFolder ------------------
def _hwc(h=300, w=260, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3)).astype(np.uint8)


def test_geometric_transforms_keep_hwc_uint8_images_hwc():
    img = _hwc()
    out = T.RandomResizedCrop(224)(img)
    assert out.shape == (224, 224, 3) and out.dtype == np.uint8
    same = T.RandomResizedCrop((300, 260), scale=(1, 1), ratio=(260 / 300, 260 / 300))(img)
    np.testing.assert_array_equal(same, img)
    flipped = T.RandomHorizontalFlip(p=1.0)(img)
    np.testing.assert_array_equal(flipped, img[:, ::-1])  # columns, not colour channels
    np.testing.assert_array_equal(T.RandomVerticalFlip(p=1.0)(img), img[::-1])
    assert T.CenterCrop(100)(img).shape == (100, 100, 3)
    assert T.Resize((50, 40))(img).shape == (50, 40, 3)
    assert T.RandomCrop(32)(img).shape == (32, 32, 3)
    batch = np.stack([img[:64, :64]] * 2)
    assert T.RandomHorizontalFlip()(batch, batched=True).shape == (2, 64, 64, 3)


def test_wrong_or_ambiguous_layouts_are_errors():
    with pytest.raises(ValueError, match="channels-last"):
        T.RandomResizedCrop(8)(np.zeros((30, 26, 3), np.float32))  # an HWC float image
    with pytest.raises(ValueError, match="cannot tell the channels"):
        T.RandomHorizontalFlip()(np.zeros((30, 26, 7), np.uint8))
    with pytest.raises(ValueError, match="put ToTensor"):
        T.Normalize([0.5] * 3, [0.2] * 3)(_hwc(8, 8))
    with pytest.raises(ValueError, match="CHW tensor already"):
        T.ToTensor()(np.zeros((3, 8, 8), np.float32))


def test_random_sized_crop_is_a_deprecated_alias():
    with pytest.warns(DeprecationWarning, match="RandomResizedCrop"):
        t = T.RandomSizedCrop(16)
    assert isinstance(t, T.RandomResizedCrop)
    assert t(_hwc(40, 30)).shape == (16, 16, 3)


def test_lecture_dataloader_listing_runs(tmp_path):
    """The lectures' listing (torchvision names) with ember's modules, on an image folder of
    differently sized HWC images."""
    for cls, sizes in (("ants", [(300, 260), (250, 320)]), ("bees", [(280, 280), (240, 300),
                                                                      (310, 250)])):
        (tmp_path / "hymenoptera_data" / "train" / cls).mkdir(parents=True)
        for i, (h, w) in enumerate(sizes):
            np.save(tmp_path / "hymenoptera_data" / "train" / cls / f"{i}.npy", _hwc(h, w, i))
    from ember.data import datasets, transforms
    import ember.data

    with pytest.warns(DeprecationWarning):
        data_transform = transforms.Compose([
            transforms.RandomSizedCrop(224),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            transforms.Normalize(mean=[0.485, 0.456, 0.406],
                                 std=[0.229, 0.224, 0.225])
        ])
    hymenoptera_dataset = datasets.ImageFolder(root=str(tmp_path / "hymenoptera_data/train"),
                                               transform=data_transform)
    dataset_loader = ember.data.DataLoader(hymenoptera_dataset,
                                           batch_size=4, shuffle=True,
                                           num_workers=4)
    batches = list(dataset_loader)
    assert [b[0].shape for b in batches] == [(4, 3, 224, 224), (1, 3, 224, 224)]
    x = np.concatenate([b[0].data for b in batches])
    assert x.dtype == np.float32
    # normalized from [0, 1] pixel values: per channel within [(0 - m) / s, (1 - m) / s]
    lo = (0 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    hi = (1 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    per_c = x.transpose(1, 0, 2, 3).reshape(3, -1)
    assert np.all(per_c.min(1) >= lo - 1e-5) and np.all(per_c.max(1) <= hi + 1e-5)
    assert sorted(int(v) for b in batches for v in b[1].data) == [0, 0, 1, 1, 1]
