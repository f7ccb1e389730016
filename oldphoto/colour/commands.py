"""``oldphoto train colorize-*|resnet-backbone|bw-detector``.

The options every trainer shares are declared once (:data:`SHARED`); each
trainer declares only its own and picks its defaults. torch is imported
inside the commands only, so ``oldphoto --help`` stays fast.
"""

from __future__ import annotations

import inspect
import shlex
import sys
import typing
from collections.abc import Callable
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


REQUIRED = inspect.Parameter.empty
InitOpt = Annotated[Path | None, typer.Option(help="Start from this checkpoint's weights.")]

#: The options the trainers share, declared once: name -> (annotated type, default).
SHARED: dict[str, tuple[Any, Any]] = {
    "data": (DataOpt, REQUIRED), "output": (OutOpt, REQUIRED),
    "epochs": (EpochsOpt, 10), "batch_size": (BatchOpt, 64), "lr": (LrOpt, 2e-3),
    "alpha": (AlphaOpt, 0.01), "beta": (BetaOpt, 0.3), "l2": (L2Opt, 0.0), "size": (SizeOpt, 32),
    "val_split": (ValOpt, 0.3), "val_limit": (ValLimitOpt, 2000), "limit": (LimitOpt, 0),
    "ema": (EmaOpt, 0.999), "device": (DeviceOpt, "cpu"), "seed": (SeedOpt, 0),
    "resume": (ResumeOpt, None), "threads": (ThreadsOpt, 0), "cache_dir": (CacheOpt, None),
    "init": (InitOpt, None), "min_colourfulness": (MinColourOpt, 0.0),
    "max_grey": (MaxGreyOpt, 0.3), "colour_reward": (RewardOpt, 0.0),
    "reward_cap": (RewardCapOpt, 0.0), "quiet": (QuietOpt, False),
}
#: What every trainer takes, and what only the colourisers add.
BASE = ("data", "output", "epochs", "batch_size", "lr", "l2", "size", "val_split", "val_limit",
        "limit", "ema", "device", "seed", "resume", "threads", "cache_dir", "quiet")
COLOUR = (*BASE, "alpha", "beta", "init", "min_colourfulness", "max_grey", "colour_reward",
          "reward_cap")
#: The classifiers' defaults where they differ from the colourisers'.
CLASSIFIER = {"batch_size": 128, "lr": 3e-3, "l2": 5e-5, "val_split": 0.1, "ema": 0.998}
#: Shared options that go to the data loader or the loop, not into TrainConfig.
_NOT_CONFIG = ("data", "output", "resume", "threads", "cache_dir", "quiet", "init", "device")


def trainer(app: typer.Typer, name: str, shared: tuple[str, ...] = COLOUR,
            **defaults: Any) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register ``fn(options, **own)`` as ``train NAME`` with the ``shared`` options added.

    ``fn`` declares only its own options (one of the same name as a shared one
    replaces it); ``options`` is a dict of the shared ones, with ``defaults``
    overriding the common defaults.
    """

    def decorate(fn: Callable[..., None]) -> Callable[..., None]:
        hints = typing.get_type_hints(fn, include_extras=True)
        own = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY, annotation=hints[p.name])
               for p in inspect.signature(fn).parameters.values() if p.name != "options"]
        taken = {p.name for p in own}
        picked = [key for key in shared if key not in taken]
        params = {key: inspect.Parameter(key, inspect.Parameter.KEYWORD_ONLY,
                                         annotation=SHARED[key][0],
                                         default=defaults.get(key, SHARED[key][1]))
                  for key in picked}
        ordered = ([params.pop("data"), params.pop("output")] if "data" in params else [])
        ordered += own + list(params.values())

        def command(**kwargs: Any) -> None:
            fn({key: kwargs.pop(key) for key in picked}, **kwargs)

        command.__signature__ = inspect.Signature(ordered)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in ordered}
        command.__doc__ = fn.__doc__
        command.__name__ = fn.__name__
        app.command(name)(command)
        return fn

    return decorate


def _prepare(
    data: list[Path], size: int, val_split: float, val_limit: int, limit: int, seed: int,
    cache_dir: Path | None,
) -> tuple[Any, Any]:
    import numpy as np

    from oldphoto.colour.data import load_image_set, merge, split
    from oldphoto.colour.distributed import main_first

    if not data:
        raise OldphotoError("--data is required")
    with main_first():  # rank 0 fills the cache, the others read it
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


def with_classes(arch: dict[str, Any], count: int) -> dict[str, Any]:
    """A copy of ``arch`` whose ``classes: None`` (at any depth) say ``count``."""
    return {key: count if key == "classes" and value is None
            else with_classes(value, count) if isinstance(value, dict) else value
            for key, value in arch.items()}


ModelFactory = Callable[[dict[str, Any], "Path | None"], Any]


def _run(kind: str, arch: dict[str, Any], options: dict[str, Any],
         model_factory: ModelFactory | None = None, **fields: Any) -> None:
    """Shared tail of every trainer: data, config, optional model, train, summary.

    ``fields`` are the trainer's own TrainConfig fields (``loss``, ``oversample``).
    Under torchrun it runs on every rank (:mod:`oldphoto.colour.distributed`).
    """
    from oldphoto.colour.distributed import session, world
    from oldphoto.device import resolve_device

    try:
        with session(resolve_device(options["device"]), options["threads"]) as device:
            record, out = _train_here(kind, arch, options, device, model_factory, fields)
            main = world().main
    except OldphotoError as err:
        typer.echo(f"oldphoto train {kind}: {err}", err=True)
        raise typer.Exit(2) from None
    if main:
        typer.echo(f"{out}: {record['val']}")


def _train_here(kind: str, arch: dict[str, Any], options: dict[str, Any], device: str,
                model_factory: ModelFactory | None, fields: dict[str, Any]) -> tuple[dict, str]:
    """Data, config, optional model, train: what one process does; returns (record, output)."""
    from oldphoto.colour.tasks import task_for
    from oldphoto.colour.training import TrainConfig, train

    train_set, val_set = _prepare(
        options["data"], options["size"], options["val_split"], options["val_limit"],
        options["limit"], options["seed"], options["cache_dir"],
    )
    arch = with_classes({**arch, "work_size": options["size"]}, len(train_set.classes))
    init = options.get("init")
    task_loss = getattr(task_for(kind), "loss_name", None)
    config = TrainConfig(
        kind=kind, arch=arch, device=device, init=str(init or ""),
        command=shlex.join(["oldphoto", *sys.argv[1:]]),
        out=str(options["output"]),
        **{key: value for key, value in options.items() if key not in _NOT_CONFIG},
        data=[str(p) for p in options["data"]],
        **({"loss": task_loss} if task_loss else {}), **fields,
    )
    model = None
    if model_factory is not None:
        import torch

        torch.manual_seed(options["seed"])  # --seed covers the initial weights too
        model = model_factory(arch, init)
    record = train(config, train_set, val_set, model=model, resume=options["resume"],
                   progress=not options["quiet"])
    return record, config.out


def _cnn_from_init(arch: dict[str, Any], init: Path | None) -> Any:
    """A fresh network, optionally starting from another checkpoint's matching weights."""
    from oldphoto.colour.models.checkpoint import build_model, read_checkpoint

    model = build_model(arch)
    if init is not None:
        state = read_checkpoint(init)["state"]
        own = model.state_dict()
        fitting = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
        model.load_state_dict(fitting, strict=False)
    return model


def _fresh(arch: dict[str, Any], _init: Path | None) -> Any:
    """A fresh network, built before the loop seeds torch (as the backbone always was)."""
    from oldphoto.colour.models.checkpoint import build_model

    return build_model(arch)


def _fusion_cnn_arch(variant: str, width: int, size: int, beta: float, prior_dim: int = 0
                     ) -> dict[str, Any]:
    """The arch of the paper's fixed-size fusion CNN or the shipped U-Net variant."""
    prior = {"prior_dim": prior_dim} if prior_dim else {}
    if variant == "paper":
        return {"model": "paper-cnn", "classes": None, "size": size, **prior}
    if variant == "unet":
        return {"model": "unet", "width": width, "classes": None, **prior, "grey_head": beta > 0}
    raise typer.BadParameter("--variant must be paper or unet")


VariantOpt = Annotated[str, typer.Option(help="paper (fixed 32x32, FC global) or unet.")]
WidthOpt = Annotated[int, typer.Option(help="Base width of the unet variant.")]
LossOpt = Annotated[str, typer.Option(help="ab (paper), rgb or psnr.")]
DepthOpt = Annotated[int, typer.Option(help="CIFAR ResNet depth 6n+2 (8, 14, 20, 56...).")]


@hookimpl
def register_commands(cli: typer.Typer, train: typer.Typer, bench: typer.Typer) -> None:
    """The colour trainers (their benches are in :mod:`oldphoto.bench.commands`)."""

    @trainer(train, "colorize-cnn")
    def train_cnn(options: dict[str, Any], variant: VariantOpt = "unet", width: WidthOpt = 16,
                  loss: LossOpt = "psnr") -> None:
        """Train the fusion CNN colouriser (paper variant or the shipped unet default)."""
        arch = _fusion_cnn_arch(variant, width, options["size"], options["beta"])
        _run("colorize-cnn", arch, options, _cnn_from_init, loss=loss)

    @trainer(train, "colorize-mlp", shared=tuple(k for k in COLOUR if k not in ("alpha", "init")),
             lr=1e-3)
    def train_mlp(
        options: dict[str, Any],
        hidden: Annotated[int, typer.Option(help="Hidden units per layer.")] = 512,
        layers: Annotated[int, typer.Option(help="Hidden layers (paper: 1, also tried 2).")] = 1,
        dropout: Annotated[float, typer.Option(help="Dropout after each hidden layer.")] = 0.0,
        loss: Annotated[
            str, typer.Option(help="rgb-direct (paper), rgb or psnr (recombined with L*).")
        ] = "psnr",
    ) -> None:
        """Train the paper's MLP colouriser (1024 -> hidden -> 3072, sigmoid, BN, Xavier)."""
        arch = {"model": "mlp", "size": options["size"], "hidden": hidden, "layers": layers,
                "dropout": dropout, "grey_head": options["beta"] > 0}
        _run("colorize-mlp", arch, options, alpha=0.0, loss=loss)

    @trainer(train, "colorize-resnet-paper")
    def train_resnet(
        options: dict[str, Any],
        backbone: Annotated[
            str, typer.Option(help="Frozen ResNet: shipped name, oldphoto checkpoint, .th or .pth.")
        ] = "resnet-backbone",
        variant: Annotated[str, typer.Option(help="paper or unet (the colouriser around it).")] = "unet",
        width: WidthOpt = 16,
        loss: LossOpt = "psnr",
        init: Annotated[
            Path | None, typer.Option(help="Start the CNN part from a colorize-cnn checkpoint.")
        ] = None,
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
    ) -> None:
        """Train a fusion CNN whose global prior includes a frozen ResNet's features."""
        from oldphoto.colour.models.backbones import load_backbone

        try:
            net = load_backbone(backbone)
        except OldphotoError as err:
            typer.echo(f"oldphoto train colorize-resnet: {err}", err=True)
            raise typer.Exit(2) from None
        cnn = _fusion_cnn_arch(variant, width, options["size"], options["beta"],
                               int(net.feature_dim))
        arch: dict[str, Any] = {"model": "resnet-colouriser", "cnn": cnn, "backbone": net.arch}
        if prior_dropout:
            arch["prior_dropout"] = prior_dropout
        if prior_only:
            if init is None and options["resume"] is None:
                typer.echo("oldphoto train colorize-resnet: --prior-only needs --init "
                           "(a trained colorize-cnn to keep)", err=True)
                raise typer.Exit(2)
            arch["prior_only"] = True

        def factory(full_arch: dict[str, Any], init_path: Path | None) -> Any:
            from oldphoto.colour.models.resnet_colouriser import ResNetColouriser

            return ResNetColouriser(
                _cnn_from_init(full_arch["cnn"], init_path), net,
                full_arch.get("prior_dropout", 0.0), full_arch.get("prior_only", False),
            )

        _run("colorize-resnet", arch, {**options, "init": init}, factory, loss=loss)

    @trainer(train, "resnet-backbone", shared=BASE, **CLASSIFIER, epochs=8, val_limit=3000)
    def train_backbone(options: dict[str, Any], depth: DepthOpt = 20) -> None:
        """Train the grey-input CIFAR ResNet that colorize-resnet uses as its frozen prior."""
        arch = {"model": "resnet", "backbone": {"family": "cifar", "depth": depth, "classes": None}}
        _run("resnet-backbone", arch, options, _fresh)

    @trainer(train, "bw-detector", shared=BASE, **CLASSIFIER, epochs=2, val_limit=0)
    def train_detector(
        options: dict[str, Any],
        depth: Annotated[int, typer.Option(help="CIFAR ResNet depth 6n+2.")] = 8,
        oversample: Annotated[int, typer.Option(help="Repeat B&W originals this often.")] = 16,
    ) -> None:
        """Train the detector of black-and-white originals that gates the colourisers.

        Labels come from the data themselves (a*b* ~ 0), so any colour set works.
        """
        arch = {"model": "resnet", "backbone": {"family": "cifar", "depth": depth, "classes": 2}}
        _run("bw-detector", arch, options, oversample=oversample)
