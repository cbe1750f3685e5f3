"""``segment_raster``: a GeoTIFF and sentences in, masks, polygons and quicklooks out.

Data flow (docs/architecture.md, "Data flow of segment"):

1. open + validate the scene, one radiometric stretch, the reading plan (GSD, tile, overlap);
2. coarse pass over a downsampled view of the whole scene -> candidate regions;
3. fine pass over the windows near candidates -> blended probabilities, streamed to a
   tiled temporary GeoTIFF on the scene's grid;
4. threshold once, vectorise (components), score, keep the best or all instances;
5. mask COG burnt from the kept polygons, optional probability COG, vector file, QGIS
   styles, quicklook; all staged and moved into place only when everything succeeded.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol, cast

import numpy as np
import rasterio
from rasterio.errors import NotGeoreferencedWarning

from geocrobim.errors import RasterError
from geocrobim.inference import instances as inst
from geocrobim.inference.calibration import ScoreCalibration, raw_score
from geocrobim.inference.domain import describe_input, warn_out_of_domain
from geocrobim.inference.expressions import clean_expressions, unique_slugs
from geocrobim.inference.grounding import CoarseGrid
from geocrobim.inference.masks import MASK_NODATA, write_final_rasters
from geocrobim.inference.options import SegmentOptions
from geocrobim.inference.outputs import ExpressionPaths, Staging, plan_outputs
from geocrobim.inference.passes import PredictorLike, choose_fine_windows, coarse_pass, fine_pass, on_cpu
from geocrobim.inference.quicklook_canvas import QuicklookCanvas
from geocrobim.inference.read_plan import ReadPlan, plan_reading
from geocrobim.inference.result import ExpressionResult, SegmentResult
from geocrobim.inference.river import RIVER_TEXT, RiverCourse
from geocrobim.inference.scene_words import SceneWords, read_scene_words
from geocrobim.raster import (
    QuicklookCaption,
    Scene,
    Stretch,
    check_output_dir,
    compute_stretch,
    make_grid,
    open_scene,
    write_cog,
    write_quicklook,
)
from geocrobim.run_warnings import collect, warn
from geocrobim.vector import PolygonTable, polygonize, write_raster_style, write_vector
from geocrobim.vector.cleanup import simplify as simplify_polygons

logger = logging.getLogger(__name__)

#: Probability at which a pixel belongs to the object, applied once after blending.
THRESHOLD = 0.5
#: GDAL's block cache during a run: enough for a row of input blocks, and bounded so
#: that peak memory does not grow with the scene (GDAL's default is 5 % of RAM).
GDAL_CACHE_MB = 64
#: Reader threads on a CPU model: one keeps ahead of the model without taking its cores.
CPU_READERS = 1
#: Reader threads with a GPU model, whose windows/s need several CPU threads to feed.
GPU_READERS = 4
#: Polygonising block edge. A referred object leaves most of the scene background, and
#: GDAL's polygoniser scans the bounding box of each block's foreground: 1024 px blocks
#: halve that scan for a scene's scattered components (0.95 s -> 0.57 s on the 8192^2
#: overhead bench) and cost ~10 % more merging when one holey component covers the scene.
VECTOR_BLOCK = 1024


def segment_raster(
    path: str | Path,
    expressions: Sequence[str],
    options: SegmentOptions | None = None,
    *,
    output_dir: str | Path = ".",
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
    predictor: PredictorLike | None = None,
    **option_values: Any,
) -> SegmentResult:
    """Segment the object each expression refers to in a georeferenced raster.

    The run's options come as one :class:`SegmentOptions` (what the CLI, the batch worker
    and the Ray actor pass) or, for convenience, as its fields in keyword form; keywords
    given beside ``options`` replace those fields::

        segment_raster("scene.tif", ["the large pond"], output_dir="out", instances="all", device="cpu")

    Args:
        path: the scene (GeoTIFF or any GDAL raster).
        expressions: one or more referring expressions; each gets its own outputs.
        options: the segment options (checkpoint, device, bands, gsd, ...; see
            :class:`SegmentOptions` for each field and its default).
        output_dir: folder for the outputs (created when the run starts writing, not before its checks).
        overwrite: replace existing outputs.
        progress: ``(done, total)`` callback over the model windows of both passes.
        predictor: an already loaded Predictor (the options' ``checkpoint`` and ``device``
            are then ignored).
        **option_values: fields of :class:`SegmentOptions`, e.g. ``instances="all"``.

    Returns:
        The run's :class:`SegmentResult`.

    Raises:
        UsageError: bad expressions or options.
        TypeError: a keyword that is not a field of :class:`SegmentOptions`.
        InputNotFoundError, RasterError: the scene cannot be used.
        OutputError: the outputs cannot be written or exist without ``overwrite``.
        CheckpointError, ModelNotFoundError: the model cannot be loaded.
    """
    started = time.perf_counter()
    texts = clean_expressions([expressions] if isinstance(expressions, str) else expressions)
    options = SegmentOptions(**option_values) if options is None else replace(options, **option_values)
    with collect() as warned, warnings.catch_warnings():
        # rasterio warns on every open of a raster without georeferencing; one log line says it.
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        # Everything that can be refused is checked before the model loads (seconds) and
        # before anything is created: the output folder appears when the run starts writing.
        scene = _open(path, options)
        plan = _plan(scene, options, predictor if predictor is not None else _model_facts(options))
        paths = plan_outputs(
            Path(output_dir), scene.path.stem, unique_slugs(texts), vector_format=options.vector_format,
            probabilities=options.probabilities,
        )
        finals = [p for e in paths for p in e.files()]
        staging = Staging(check_output_dir(output_dir), overwrite=overwrite)
        staging.check(finals)
        run = _Run(scene, texts, paths, _load(predictor, options), staging, options, plan)
        with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB, GDAL_TIFF_INTERNAL_MASK=True), staging:
            run.execute(progress)
            run.vectorise()
            run.write()
            staging.commit(finals)
    run.timings["total_s"] = time.perf_counter() - started
    return run.result(warned)


def _open(path: str | Path, options: SegmentOptions) -> Scene:
    """Open and check the scene: bands, readability, and a colour table only where it can be read."""
    scene = open_scene(path, options.bands)
    if scene.paletted and scene.palette is None:
        # One uint8 paletted band is expanded on read; indices read as brightness in any
        # other selection would be segmented as nonsense.
        raise RasterError(
            f"{scene.path}: band {scene.paletted[0]} holds colour-table indices, not colours, and only a "
            f"single 8-bit paletted band is expanded on read; expand it to RGB first, e.g. "
            f"gdal_translate -expand rgb {scene.path.name} {scene.path.stem}-rgb.tif"
        )
    if scene.crs is None:
        name = scene.path.name
        warn(
            logger, "%s has no georeference (no CRS): outputs are in pixel space and areas in %s; to place it on "
            "the map: gdal_translate -a_srs EPSG:<code> -a_ullr <ulx> <uly> <lrx> <lry> %s %s.tif",
            name, area_unit(scene), name, scene.path.stem,
        )  # fmt: skip
    return scene


class _ModelFacts(Protocol):
    """What the reading plan needs of the model: a loaded predictor or the checkpoint's JSON."""

    @property
    def tile_size(self) -> int: ...
    @property
    def gsd(self) -> float | None: ...


def _model_facts(options: SegmentOptions) -> _ModelFacts:
    """Check the device and the checkpoint, and read the model's input size and GSD, without loading it.

    Raises:
        UsageError: a device this machine does not have.
        InputNotFoundError, CheckpointError: no usable checkpoint there.
    """
    from geocrobim.models.checkpoint import read_checkpoint_info
    from geocrobim.models.device import check_device

    check_device(options.device)
    return read_checkpoint_info(options.checkpoint)


def _plan(scene: Scene, options: SegmentOptions, model: _ModelFacts) -> ReadPlan:
    """The fine pass's tiling and reading GSD; tile and overlap are checked against the model here."""
    return plan_reading(
        tile=options.tile_size if options.tile_size is not None else model.tile_size,
        overlap=options.overlap, source_gsd=scene.gsd_m, model_gsd=model.gsd, gsd=options.gsd,
    )


def _readers(readers: int | None, predictor: PredictorLike) -> int:
    if readers is not None:
        return readers
    return CPU_READERS if on_cpu(predictor) else GPU_READERS


def _load(predictor: PredictorLike | None, options: SegmentOptions) -> PredictorLike:
    from geocrobim.models import FlipEnsemble, Predictor

    if predictor is None:
        predictor = Predictor.from_checkpoint(options.checkpoint, device=options.device)
    if uses_tta(options, predictor) and not isinstance(predictor, FlipEnsemble):
        return FlipEnsemble(cast(Predictor, predictor))
    return predictor


def uses_tta(options: SegmentOptions, predictor: PredictorLike) -> bool:
    """The options' ``tta``, or where it is None, the model's own ``"tta"`` metadata (off without it)."""
    if options.tta is not None:
        return options.tta
    return bool((getattr(predictor, "metadata", None) or {}).get("tta", False))


class _Run:
    """State of one segment_raster call, stage by stage."""

    def __init__(
        self,
        scene: Scene,
        texts: list[str],
        paths: list[ExpressionPaths],
        predictor: PredictorLike,
        staging: Staging,
        options: SegmentOptions,
        plan: ReadPlan,
    ) -> None:
        self.scene = scene
        self.options = options
        self.plan = plan
        self.texts = texts
        # "the rightmost pool", "the pond in the left part of the image": no window can rank the
        # scene's pools or knows where the image's left is; the engine resolves those words.
        self.words = [read_scene_words(t) if options.scene_words else SceneWords(t, t) for t in texts]
        self.paths = paths
        self.predictor = predictor
        self.staging = staging
        self.timings: dict[str, float] = {}
        self.reading: dict[str, Any] = {}
        self.results = [ExpressionResult(text, p) for text, p in zip(texts, paths, strict=True)]
        self.kept: list[PolygonTable] = []
        self.coarse_grid: CoarseGrid | None = None
        self.coarse_probs: np.ndarray | None = None
        self.river: RiverCourse | None = None
        self.stretch: Stretch | None = None
        self.input_report: dict[str, Any] = {}
        self.no_valid_pixels = False
        self.canvas = QuicklookCanvas(scene)

    @property
    def work(self) -> Path:
        assert self.staging.work is not None  # noqa: S101 - internal invariant: staging is open
        return self.staging.work

    @property
    def prob_path(self) -> Path:
        return self.work / "probabilities.tif"

    def execute(self, progress: Callable[[int, int], None] | None) -> None:
        """Stretch, plan, coarse pass, fine pass."""
        t0 = time.perf_counter()
        scene, predictor, opts, plan = self.scene, self.predictor, self.options, self.plan
        with scene.open() as src:
            self.stretch = compute_stretch(src, scene, opts.value_range)
        self.input_report = describe_input(scene, self.stretch, opts.value_range)
        logger.info("bands %s as R,G,B, stretch %s", self.input_report["bands"], self.input_report["stretch"])
        warn_out_of_domain(scene, plan, getattr(predictor, "metadata", None) or {})
        for words in self.words:
            if words.scene_wide:
                logger.info("'%s': the model looks for '%s', the engine resolves %s", words.expression, words.model_text, words.describe())
        windows = make_grid(scene.width, scene.height, plan.footprint, plan.source_overlap)
        self.timings["prepare_s"] = time.perf_counter() - t0
        logger.info(
            "%s: %dx%d px, reading at %s m, %d windows of %d px (%d source px)",
            scene.path.name, scene.width, scene.height,
            "native" if plan.reading_gsd_m is None else f"{plan.reading_gsd_m:.3g}",
            len(windows), plan.tile, plan.footprint,
        )
        t0 = time.perf_counter()
        passes: dict[str, Any] = {"batch_size": opts.batch_size, "readers": _readers(opts.readers, predictor), "canvas": self.canvas}
        outcome = None
        scene_text = None
        # "north of the river": the river is found on the coarse view, with the sentences when
        # there is a coarse pass (one image encoding), on a view of its own otherwise.
        river_text = [RIVER_TEXT] if any(w.bank for w in self.words) else []
        if opts.coarse:
            # The coarse view holds the whole scene, so it reads the whole sentence: its support then
            # favours the candidate the scene-wide words mean, before the engine ranks the candidates.
            scene_text = predictor.encode_text(self.texts + river_text)
            outcome = coarse_pass(
                scene, self.stretch, plan, predictor, scene_text, len(self.texts) + len(river_text), progress=progress, **passes
            )
        done = outcome.stats.total if outcome else 0
        calls = outcome.stats.predict_calls if outcome else 0
        if river_text and outcome is not None:
            self._find_river(outcome.probs[-1], outcome.grid)
            outcome = replace(outcome, probs=outcome.probs[:-1], candidates=outcome.candidates[:-1])
        elif river_text:
            river = coarse_pass(
                scene, self.stretch, plan, predictor, predictor.encode_text(river_text, warn_user=False), 1,
                progress=progress, always=True, **passes,
            )
            if river is not None:  # always=True: there is a view
                self._find_river(river.probs[0], river.grid)
                done, calls = done + river.stats.total, calls + river.stats.predict_calls
        # The user's sentences were checked (and warned about) when the coarse pass encoded them; the
        # fine pass reuses that encoding when it reads the same sentences.
        model_texts = [words.model_text for words in self.words]
        if scene_text is not None and not river_text and model_texts == self.texts:
            text = scene_text
        else:
            checked = scene_text is not None
            if not checked and model_texts != self.texts:
                # Warnings name the user's words in the user's sentence, not the engine's ("every"):
                # one text encoding to check them, cheap beside the windows.
                predictor.encode_text(self.texts)
                checked = True
            text = predictor.encode_text(model_texts, warn_user=not checked)
        chosen, reason, fallback = choose_fine_windows(windows, outcome, plan)
        if outcome is not None:
            self.coarse_grid, self.coarse_probs = outcome.grid, outcome.probs
        if fallback:
            warn(logger, "%s", reason)
        else:
            logger.info("%s", reason)
        self.timings["coarse_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        stats = fine_pass(
            scene, self.stretch, plan, [windows[i] for i in chosen], predictor, text, len(self.texts),
            self.prob_path, progress=progress, progress_offset=done, **passes,
        )
        self.timings["fine_s"] = time.perf_counter() - t0
        self.no_valid_pixels = stats.run == 0 and stats.skipped == stats.total
        if self.no_valid_pixels:
            warn(logger, "%s has no valid pixel (all nodata or masked): the masks are empty and the layers have no features", scene.path.name)
        self.reading = {
            **plan.to_dict(),
            **self.input_report,
            "windows": len(windows),
            "fine_windows_run": stats.run,
            "fine_windows_skipped": stats.skipped,
            "fine_windows_selected": len(chosen),
            "coarse": outcome is not None,
            "coarse_windows": outcome.stats.total if outcome else 0,
            "coarse_gsd_m": _coarse_gsd(outcome.grid.factor if outcome else None, plan.source_gsd_m),
            "selection": reason,
            "coarse_fallback": fallback,
            "tta": uses_tta(self.options, self.predictor),
            "predict_calls": stats.predict_calls + calls,
            "no_valid_pixels": self.no_valid_pixels,
        }

    def _find_river(self, prob: np.ndarray, grid: CoarseGrid) -> None:
        """Fit the river's course on its coarse probabilities; where a bank cannot be measured against
        it (no river found, or one running along the asked direction), the model reads the bank words."""
        self.river = RiverCourse.from_probabilities(prob, grid.transform(self.scene.transform))
        for e, words in enumerate(self.words):
            if words.bank is None:
                continue
            if self.river is None:
                why = "no river found in the scene"
            elif self.river.sign_towards(words.bank) is None:
                why = f"the river {self.river.describe()}, so it has no {words.bank} bank"
            else:
                continue
            warn(logger, "'%s': %s; the model reads '%s of the river' itself", words.expression, why, words.bank)
            self.words[e] = read_scene_words(words.expression, banks=False)
        if self.river is not None:
            logger.info("the river %s (%d pixels of the coarse view)", self.river.describe(), self.river.pixels)

    def vectorise(self) -> None:
        """Threshold once, one polygon per component, score, keep best/all."""
        t0 = time.perf_counter()
        layers = []
        for e, result in enumerate(self.results):
            t = time.perf_counter()
            # Exact pixel outlines here: the mask is burnt back from these polygons and
            # scoring rasterises them; simplification is for the written vectors only.
            # One process: with torch loaded the pool would need forkserver workers, whose
            # start-up and memory outweigh the gain for a model's few components.
            table = polygonize(
                self.prob_path, band=e + 1, threshold=THRESHOLD, min_area=self.options.min_area,
                fill_holes_below=self.options.fill_holes, workers=1, block_size=VECTOR_BLOCK,
                as_table=True,  # no pandas/geopandas import: ~0.5 s and ~90 MB of a CLI run
                warn_units=False,  # said once, about the user's file, in segment_raster
            )
            result.components = len(table)
            result.timings["polygonize_s"] = time.perf_counter() - t
            layers.append(table)
        t = time.perf_counter()
        fine = inst.fine_means(self.prob_path, [table.geometries for table in layers])
        metadata = getattr(self.predictor, "metadata", None) or {}
        tta = uses_tta(self.options, self.predictor)
        calibration = ScoreCalibration.from_metadata(metadata, tta=tta)
        if calibration is None and metadata.get("calibration"):
            warn(
                logger, "%s's calibration was fitted on the reading %s the flip ensemble, and this run reads %s it: its "
                "scores are raw, and nothing is 'not found'; geocrobim calibrate %s CHECKPOINT fits a map for this reading",
                self.predictor.model_id, "without" if tta else "with", "with" if tta else "without", "--tta" if tta else "--no-tta",
            )  # fmt: skip
        threshold = self.options.min_score
        if threshold is None:
            threshold = calibration.threshold if calibration is not None else 0.0
        for e, (table, result) in enumerate(zip(layers, self.results, strict=True)):
            if self.coarse_probs is not None and self.coarse_grid is not None:
                transform = self.coarse_grid.transform(self.scene.transform)
                coarse = inst.coarse_means(table.geometries, self.coarse_probs[e], transform)
            else:
                coarse = np.full(len(table), np.nan)
            score = raw_score(fine[e], coarse) if calibration is None else calibration.probability(fine[e], coarse)
            scored = table.with_columns({"fine_prob": fine[e], "coarse_prob": coarse, "score": score})
            words = self.words[e]
            if words.bank is not None and self.river is not None:
                # The candidates on the named bank only (_find_river left no bank it cannot measure).
                bank = self.river.on_bank(*inst.centroids(scored.geometries), words.bank)
                if bank is not None:
                    scored = scored.take(np.flatnonzero(bank))
            if words.picks:
                shape = (self.scene.height, self.scene.width)
                ranked, result.scene_words = inst.pick_scene_wide(scored, words, self.scene.transform, shape, self.options.instances)
            else:
                ranked = inst.arbitrate(scored, self.options.instances)
                if words.bank is not None:
                    result.scene_words = f"{words.describe()}: {len(scored)} candidate(s) of '{words.model_text}'"
            if result.scene_words is not None:
                logger.info("'%s': %s", words.expression, result.scene_words)
            result.score = float(ranked.columns["score"][0]) if len(ranked) else None
            kept = inst.above(ranked, threshold)
            self.kept.append(kept)
            result.instances = len(kept)
            result.found = len(kept) > 0
            result.area = float(kept.columns["area_m2"].sum()) if len(kept) else 0.0
            result.area_unit = area_unit(self.scene)
            rejected = None if len(kept) or not len(ranked) else ranked
            result.note = self._note(len(table), rejected, threshold, None if len(ranked) else result.scene_words)
        self.timings["score_s"] = time.perf_counter() - t
        self.timings["vectorise_s"] = time.perf_counter() - t0

    def _note(
        self, components: int, rejected: PolygonTable | None, threshold: float, unpicked: str | None = None
    ) -> str | None:
        """Why the result is empty, when it is.

        Args:
            components: connected components found.
            rejected: the ranked candidates, all under ``threshold``; None when some were kept.
            threshold: the "not found" threshold.
            unpicked: what scene-wide words resolved, when they picked no candidate.
        """
        if self.no_valid_pixels:
            return "the scene has no valid pixel (all nodata or masked): empty mask, empty layer"
        if components == 0:
            return f"not found: no pixel reached probability {THRESHOLD}: empty mask, empty layer"
        if unpicked is not None:
            return f"not found: {unpicked}, none at the asked position: empty mask, empty layer"
        if rejected is not None:
            x, y = inst.centre(rejected.geometries[0])
            return (
                f"not found: the best candidate (score {float(rejected.columns['score'][0]):.2f}, at {x:.1f}, {y:.1f}) "
                f"is under the threshold {threshold:.2f}: empty mask, empty layer; --min-score 0 writes it"
            )
        return None

    def write(self) -> None:
        """Mask/probability COGs, styles, vector files and quicklooks into the staging folder."""
        t0 = time.perf_counter()
        scene, stage = self.scene, self.staging
        n = len(self.texts)
        temp_masks = [self.work / f"mask-{e}.tif" for e in range(n)]
        temp_probs = [self.work / f"prob-{e}.tif" for e in range(n)] if self.paths[0].probabilities else None
        # The passes read every part of the scene: no second whole-scene read for the picture.
        background = self.canvas.background() if self.canvas.complete else None
        with scene.open() as src:
            assert self.stretch is not None  # noqa: S101 - set by execute()
            write_final_rasters(
                src, scene, self.stretch, self.prob_path, [k.geometries for k in self.kept], temp_masks, temp_probs
            )
            for e, (paths, result, kept) in enumerate(zip(self.paths, self.results, self.kept, strict=True)):
                t = time.perf_counter()
                write_cog(temp_masks[e], stage.path(paths.mask), nodata=MASK_NODATA, resampling="nearest")
                write_raster_style(stage.path(paths.mask), kind="mask")
                if temp_probs is not None and paths.probabilities is not None:
                    write_cog(temp_probs[e], stage.path(paths.probabilities), resampling="average")
                    write_raster_style(stage.path(paths.probabilities), kind="probability")
                write_vector(
                    self._features(kept, result.expression, self.options.simplify), stage.path(paths.vector),
                    format=self.options.vector_format, layer=paths.vector.stem,
                )
                write_quicklook(
                    stage.path(paths.quicklook), src, scene, self.stretch, stage.path(paths.mask), background=background,
                    caption=QuicklookCaption(result.expression, result.score, result.instances, result.note),
                    focus=_best_bounds(kept),
                )
                result.timings["write_s"] = time.perf_counter() - t
        self.timings["write_s"] = time.perf_counter() - t0

    def _features(self, kept: PolygonTable, expression: str, simplify: float) -> PolygonTable:
        """The vector layer: one feature per kept instance with its attributes."""
        n = len(kept)
        # Without a CRS the measures are in pixels (or the transform's units): named so, not "_m2".
        metres = self.scene.crs is not None
        measures = {"area_m2": "area_m2" if metres else "area", "perimeter_m": "perimeter_m" if metres else "perimeter"}
        columns = {
            "expression": np.full(n, expression, dtype=object),
            **{name: kept.columns[name] for name in ("rank", "score", "fine_prob", "coarse_prob")},
            **{label: kept.columns[name] for name, label in measures.items()},
            "model_id": np.full(n, self.predictor.model_id, dtype=object),
            "scene": np.full(n, self.scene.path.name, dtype=object),
        }
        geometries = simplify_polygons(kept.geometries, simplify) if simplify > 0 and n else kept.geometries
        return PolygonTable(geometries, columns, kept.crs)

    def result(self, warnings: list[str]) -> SegmentResult:
        crs = self.scene.crs
        model = {
            "id": self.predictor.model_id,
            "tile_size": self.predictor.tile_size,
            "gsd_m": self.predictor.gsd,
            "device": str(getattr(self.predictor, "device", "unknown")),
        }
        return SegmentResult(
            input=self.scene.path.resolve(),
            crs=None if crs is None else (crs.to_string() if crs.to_epsg() is None else f"EPSG:{crs.to_epsg()}"),
            width=self.scene.width,
            height=self.scene.height,
            model=model,
            reading=self.reading,
            expressions=self.results,
            timings=self.timings,
            warnings=list(dict.fromkeys(warnings)),
        )


def area_unit(scene: Scene) -> str:
    """``m2`` with a CRS; ``px2`` without one on the identity grid (a PNG); else the transform's units squared."""
    if scene.crs is not None:
        return "m2"
    return "px2" if scene.transform.is_identity else "map units2"


def _coarse_gsd(factor: float | None, source_gsd: float | None) -> float | None:
    if factor is None or source_gsd is None:
        return None
    return round(factor * source_gsd, 4)


def _best_bounds(kept: PolygonTable) -> tuple[float, float, float, float] | None:
    """``(left, bottom, right, top)`` of the best kept instance (the first), for the quicklook's detail."""
    if not len(kept):
        return None
    left, bottom, right, top = kept.geometries[0].bounds
    return float(left), float(bottom), float(right), float(top)
