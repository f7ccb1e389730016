"""``oldphoto train colorize-*|resnet-backbone|bw-detector``.

torch is imported inside the commands only, so ``oldphoto --help`` stays fast.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from oldphoto.errors import OldphotoError
from oldphoto.hookspecs import hookimpl

DataOpt = Annotated[
    list[Path],
    typer.Option(
        "--data",
        help="Image folder (class sub-folders give labels; a plain folder has none) or "
        "CIFAR-10 python batches. Repeat to mix sets.",
    ),
]
OutOpt = Annotated[Path, typer.Option("--output", "-o", help="Checkpoint to write (each epoch).")]
EpochsOpt = Annotated[int, typer.Option(min=1, help="Epochs.")]
BatchOpt = Annotated[int, typer.Option("--batch-size", min=1, help="Mini-batch size.")]
LrOpt = Annotated[float, typer.Option(help="Peak learning rate (Adam).")]
AlphaOpt = Annotated[float, typer.Option(help="Weight α of the class cross-entropy.")]
BetaOpt = Annotated[float, typer.Option(help="Weight β of the grey-original detector (0 = none).")]
L2Opt = Annotated[float, typer.Option("--l2", help="L2 penalty (Adam weight decay).")]
SizeOpt = Annotated[int, typer.Option(min=8, help="Working size: images are trained at SxS.")]
ValOpt = Annotated[float, typer.Option(min=0.0, max=0.9, help="Validation fraction (paper: 0.3).")]
ValLimitOpt = Annotated[int, typer.Option(help="Validate on at most this many images.")]
LimitOpt = Annotated[int, typer.Option(help="Train on at most this many images (0 = all).")]
DeviceOpt = Annotated[str, typer.Option(help="cpu, cuda or auto.")]
SeedOpt = Annotated[int, typer.Option(help="Random seed (split, order, init).")]
ResumeOpt = Annotated[Path | None, typer.Option(help="Resume from a checkpoint's .state file.")]
ThreadsOpt = Annotated[int, typer.Option(help="CPU threads for torch (0 = torch's default).")]
CacheOpt = Annotated[
    Path | None, typer.Option("--cache-dir", help="Where decoded data are cached as .npz.")
]
EmaOpt = Annotated[float, typer.Option(help="Weight-averaging decay (0 = none).")]
MinColourOpt = Annotated[
    float,
    typer.Option(
        help="After training, calibrate the a*b* gain and the faint-colour gate on the val "
        "split: best PSNR whose colourfulness reaches this share of the truth's (0 = gain 1, no gate)."
    ),
]
MaxGreyOpt = Annotated[
    float,
    typer.Option(
        min=0.0, max=1.0,
        help="With --min-colourfulness: the faint-colour gate may leave at most this share of "
        "the val photos grey.",
    ),
]
RewardOpt = Annotated[
    float,
    typer.Option(
        min=0.0,
        help="With --loss psnr: subtract this times the result's colourfulness (Hasler and "
        "Suesstrunk, 0-255) from the loss, to trade PSNR for visible colour (0 = none).",
    ),
]
RewardCapOpt = Annotated[
    float,
    typer.Option(
        min=0.0,
        help="Pay the colour reward only up to this multiple of each training photo's own "
        "colourfulness, so grey-ish scenes are not painted (0 = no cap).",
    ),
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]


def _prepare(
    data: list[Path], size: int, val_split: float, val_limit: int, limit: int, seed: int,
    cache_dir: Path | None, threads: int,
) -> tuple[Any, Any]:
    import numpy as np
    import torch

    from oldphoto.colour.data import load_image_set, merge, split

    if threads:
        torch.set_num_threads(threads)
    if not data:
        raise OldphotoError("--data is required")
    full = merge([load_image_set(path, size, cache_dir=cache_dir) for path in data])
    train_set, val_set = split(full, val_split, seed)
    if limit:
        pick = np.random.default_rng(seed).permutation(len(train_set))[:limit]
        train_set = train_set.subset(np.sort(pick))
    if val_limit and len(val_set) > val_limit:
        pick = np.random.default_rng(seed + 1).permutation(len(val_set))[:val_limit]
        val_set = val_set.subset(np.sort(pick))
    if not len(val_set):
        val_set = train_set.subset(np.arange(min(len(train_set), 64)))
    return train_set, val_set


def _run(kind: str, arch: dict, common: dict, model_factory: Any = None) -> None:
    """Shared tail of every trainer: data, config, optional model, train, summary."""
    from oldphoto.colour.training import TrainConfig, train
    from oldphoto.device import resolve_device

    try:
        device = resolve_device(common.pop("device"))
        resume = common.pop("resume")
        quiet = common.pop("quiet")
        train_set, val_set = _prepare(
            common["data"], common["size"], common["val_split"], common["val_limit"],
            common["limit"], common["seed"], common.pop("cache_dir"), common.pop("threads"),
        )
        arch = {**arch, "work_size": common["size"]}
        if "classes" in arch and arch["classes"] is None:
            arch["classes"] = len(train_set.classes)
        init = common.pop("init", None)
        config = TrainConfig(
            kind=kind, arch=arch, device=device, init=str(init or ""),
            command=shlex.join(["oldphoto", *sys.argv[1:]]),
            **{**common, "data": [str(p) for p in common["data"]], "out": str(common["out"])},
        )
        model = model_factory(arch, init) if model_factory else None
        record = train(config, train_set, val_set, model=model, resume=resume, progress=not quiet)
    except OldphotoError as err:
        typer.echo(f"oldphoto train {kind}: {err}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"{config.out}: {record['val']}")


#: Options every trainer passes on to TrainConfig (or to the data loader) under the same name.
_SHARED = (
    "data", "epochs", "batch_size", "lr", "alpha", "beta", "l2", "loss", "size", "val_split",
    "val_limit", "limit", "ema", "device", "seed", "resume", "threads", "cache_dir", "quiet",
    "init", "min_colourfulness", "max_grey", "oversample", "colour_reward",
    "reward_cap",
)


def _common(arguments: dict[str, Any], **fixed: Any) -> dict:
    """The shared training options from a command's own arguments (``locals()``), plus fixed ones.

    Each trainer declares only the options that make sense for it; the rest
    keep TrainConfig's defaults.
    """
    picked = {key: arguments[key] for key in _SHARED if key in arguments}
    return {**picked, "out": arguments["output"], **fixed}


def _cnn_from_init(arch: dict, init: Path | None) -> Any:
    """A fresh network, optionally starting from another checkpoint's matching weights."""
    from oldphoto.colour.models.checkpoint import build_model, read_checkpoint

    model = build_model(arch)
    if init is not None:
        state = read_checkpoint(init)["state"]
        own = model.state_dict()
        fitting = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
        model.load_state_dict(fitting, strict=False)
    return model


@hookimpl
def register_commands(cli: typer.Typer, train: typer.Typer, bench: typer.Typer) -> None:
    @train.command("colorize-cnn-paper")
    def train_cnn(
        data: DataOpt, output: OutOpt,
        variant: Annotated[str, typer.Option(help="paper (fixed 32x32, FC global) or unet.")] = "unet",
        width: Annotated[int, typer.Option(help="Base width of the unet variant.")] = 16,
        loss: Annotated[str, typer.Option(help="ab (paper), rgb or psnr.")] = "psnr",
        epochs: EpochsOpt = 10, batch_size: BatchOpt = 64, lr: LrOpt = 2e-3,
        alpha: AlphaOpt = 0.01, beta: BetaOpt = 0.3, l2: L2Opt = 0.0, size: SizeOpt = 32,
        val_split: ValOpt = 0.3, val_limit: ValLimitOpt = 2000, limit: LimitOpt = 0,
        ema: EmaOpt = 0.999, device: DeviceOpt = "cpu", seed: SeedOpt = 0,
        resume: ResumeOpt = None, threads: ThreadsOpt = 0, cache_dir: CacheOpt = None,
        init: Annotated[Path | None, typer.Option(help="Start from this checkpoint's weights.")] = None,
        min_colourfulness: MinColourOpt = 0.0, max_grey: MaxGreyOpt = 0.3,
        colour_reward: RewardOpt = 0.0, reward_cap: RewardCapOpt = 0.0,
        quiet: QuietOpt = False,
    ) -> None:
        """Train the fusion CNN colouriser (paper variant or the shipped unet default)."""
        if variant == "paper":
            arch = {"model": "paper-cnn", "classes": None, "size": size}
        elif variant == "unet":
            arch = {"model": "unet", "width": width, "classes": None, "grey_head": beta > 0}
        else:
            raise typer.BadParameter("--variant must be paper or unet")
        common = _common(locals())
        _run("colorize-cnn", arch, common, _cnn_from_init)

    @train.command("colorize-mlp")
    def train_mlp(
        data: DataOpt, output: OutOpt,
        hidden: Annotated[int, typer.Option(help="Hidden units per layer.")] = 512,
        layers: Annotated[int, typer.Option(help="Hidden layers (paper: 1, also tried 2).")] = 1,
        dropout: Annotated[float, typer.Option(help="Dropout after each hidden layer.")] = 0.0,
        loss: Annotated[
            str, typer.Option(help="rgb-direct (paper), rgb or psnr (recombined with L*).")
        ] = "psnr",
        beta: BetaOpt = 0.3,
        epochs: EpochsOpt = 10, batch_size: BatchOpt = 64, lr: LrOpt = 1e-3, l2: L2Opt = 0.0,
        size: SizeOpt = 32, val_split: ValOpt = 0.3, val_limit: ValLimitOpt = 2000,
        limit: LimitOpt = 0, ema: EmaOpt = 0.999, device: DeviceOpt = "cpu", seed: SeedOpt = 0,
        resume: ResumeOpt = None, threads: ThreadsOpt = 0, cache_dir: CacheOpt = None,
        min_colourfulness: MinColourOpt = 0.0, max_grey: MaxGreyOpt = 0.3,
        colour_reward: RewardOpt = 0.0, reward_cap: RewardCapOpt = 0.0,
        quiet: QuietOpt = False,
    ) -> None:
        """Train the paper's MLP colouriser (1024 -> hidden -> 3072, sigmoid, BN, Xavier)."""
        arch = {"model": "mlp", "size": size, "hidden": hidden, "layers": layers,
                "dropout": dropout, "grey_head": beta > 0}
        common = _common(locals(), alpha=0.0)
        _run("colorize-mlp", arch, common)

    @train.command("colorize-resnet-paper")
    def train_resnet(
        data: DataOpt, output: OutOpt,
        backbone: Annotated[
            str, typer.Option(help="Frozen ResNet: shipped name, oldphoto checkpoint, .th or .pth.")
        ] = "resnet-backbone",
        variant: Annotated[str, typer.Option(help="paper or unet (the colouriser around it).")] = "unet",
        width: Annotated[int, typer.Option(help="Base width of the unet variant.")] = 16,
        loss: Annotated[str, typer.Option(help="ab (paper), rgb or psnr.")] = "psnr",
        epochs: EpochsOpt = 10, batch_size: BatchOpt = 64, lr: LrOpt = 2e-3,
        alpha: AlphaOpt = 0.01, beta: BetaOpt = 0.3, l2: L2Opt = 0.0, size: SizeOpt = 32,
        val_split: ValOpt = 0.3, val_limit: ValLimitOpt = 2000, limit: LimitOpt = 0,
        ema: EmaOpt = 0.999, device: DeviceOpt = "cpu", seed: SeedOpt = 0,
        resume: ResumeOpt = None, threads: ThreadsOpt = 0, cache_dir: CacheOpt = None,
        init: Annotated[
            Path | None, typer.Option(help="Start the CNN part from a colorize-cnn checkpoint.")
        ] = None,
        min_colourfulness: MinColourOpt = 0.0, max_grey: MaxGreyOpt = 0.3,
        colour_reward: RewardOpt = 0.0, reward_cap: RewardCapOpt = 0.0,
        prior_dropout: Annotated[
            float,
            typer.Option(
                min=0.0, max=1.0,
                help="Withhold the ResNet prior from this share of training photos, so the CNN "
                "does not lean on it where its classes say nothing (e.g. landscapes).",
            ),
        ] = 0.0,
        prior_only: Annotated[
            bool,
            typer.Option(
                help="Train only the projection of the ResNet prior; the CNN from --init stays "
                "as it is, so the prior can add to its colour but not unlearn it.",
            ),
        ] = False,
        quiet: QuietOpt = False,
    ) -> None:
        """Train a fusion CNN whose global prior includes a frozen ResNet's features."""
        from oldphoto.colour.models.backbones import load_backbone

        try:
            net = load_backbone(backbone)
        except OldphotoError as err:
            typer.echo(f"oldphoto train colorize-resnet: {err}", err=True)
            raise typer.Exit(2) from None
        prior = int(net.feature_dim)
        if variant == "paper":
            cnn = {"model": "paper-cnn", "classes": None, "size": size, "prior_dim": prior}
        else:
            cnn = {"model": "unet", "width": width, "classes": None, "prior_dim": prior,
                   "grey_head": beta > 0}
        arch = {"model": "resnet-colouriser", "cnn": cnn, "backbone": net.arch, "classes": None}
        if prior_dropout:
            arch["prior_dropout"] = prior_dropout
        if prior_only:
            if init is None and resume is None:
                typer.echo("oldphoto train colorize-resnet: --prior-only needs --init "
                           "(a trained colorize-cnn to keep)", err=True)
                raise typer.Exit(2)
            arch["prior_only"] = True

        def factory(full_arch: dict, init_path: Path | None) -> Any:
            from oldphoto.colour.models.resnet_colouriser import ResNetColouriser

            full_arch["cnn"]["classes"] = full_arch.pop("classes")
            return ResNetColouriser(
                _cnn_from_init(full_arch["cnn"], init_path), net,
                full_arch.get("prior_dropout", 0.0), full_arch.get("prior_only", False),
            )

        common = _common(locals())
        _run("colorize-resnet", arch, common, factory)

    @train.command("resnet-backbone")
    def train_backbone(
        data: DataOpt, output: OutOpt,
        depth: Annotated[int, typer.Option(help="CIFAR ResNet depth 6n+2 (8, 14, 20, 56...).")] = 20,
        epochs: EpochsOpt = 8, batch_size: BatchOpt = 128, lr: LrOpt = 3e-3, l2: L2Opt = 5e-5,
        size: SizeOpt = 32, val_split: ValOpt = 0.1, val_limit: ValLimitOpt = 3000,
        limit: LimitOpt = 0, ema: EmaOpt = 0.998, device: DeviceOpt = "cpu", seed: SeedOpt = 0,
        resume: ResumeOpt = None, threads: ThreadsOpt = 0, cache_dir: CacheOpt = None,
        quiet: QuietOpt = False,
    ) -> None:
        """Train the grey-input CIFAR ResNet that colorize-resnet uses as its frozen prior."""
        arch = {"model": "resnet", "backbone": {"family": "cifar", "depth": depth, "classes": None}}

        def factory(full_arch: dict, _init: Path | None) -> Any:
            from oldphoto.colour.models.checkpoint import build_model

            full_arch["backbone"]["classes"] = full_arch.pop("classes")
            return build_model(full_arch)

        arch["classes"] = None
        common = _common(locals(), alpha=0.0, beta=0.0, loss="ce")
        _run("resnet-backbone", arch, common, factory)

    @train.command("bw-detector")
    def train_detector(
        data: DataOpt, output: OutOpt,
        depth: Annotated[int, typer.Option(help="CIFAR ResNet depth 6n+2.")] = 8,
        oversample: Annotated[int, typer.Option(help="Repeat B&W originals this often.")] = 16,
        epochs: EpochsOpt = 2, batch_size: BatchOpt = 128, lr: LrOpt = 3e-3, l2: L2Opt = 5e-5,
        size: SizeOpt = 32, val_split: ValOpt = 0.1, val_limit: ValLimitOpt = 0,
        limit: LimitOpt = 0, ema: EmaOpt = 0.998, device: DeviceOpt = "cpu", seed: SeedOpt = 0,
        resume: ResumeOpt = None, threads: ThreadsOpt = 0, cache_dir: CacheOpt = None,
        quiet: QuietOpt = False,
    ) -> None:
        """Train the detector of black-and-white originals that gates the colourisers.

        Labels come from the data themselves (a*b* ~ 0), so any colour set works.
        """
        arch = {"model": "resnet", "backbone": {"family": "cifar", "depth": depth, "classes": 2}}
        common = _common(locals(), alpha=0.0, beta=0.0, loss="ce")
        _run("bw-detector", arch, common)
