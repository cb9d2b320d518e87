"""Per-file formats of the DeepSense 6G layout: one reader and one writer per kind of file.

Readers validate what they load and raise :class:`DeepSenseError` naming the file;
the scenario reader adds the row and the column.

- power   ``*.txt``: 64 lines, one linear float per beam.
- GPS     ``*.txt``: latitude line, then longitude line (degrees).
- radar   ``*.npy`` (scenarios 31-34) or ``*.mat`` (scenario 9): complex (4, 256, 128|250).
- LiDAR   ``*.ply`` (ASCII or binary; x, y, z and optional intensity, read with plyfile)
          or ``*.mat`` (scenario 9): an (N, 3|4+) or (3|4+, N) array.
- camera  ``*.jpg``: bytes kept as they are; checked for the start and end markers.
"""
from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np

from beam_predictor import contract
from beam_predictor.deepsense.errors import DeepSenseError

JPEG_SOI = b"\xff\xd8"
JPEG_EOI = b"\xff\xd9"


def _read_bytes(path: Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise DeepSenseError("file not found", file=path) from None
    except IsADirectoryError:
        raise DeepSenseError("expected a file, found a directory", file=path) from None


# --- power -------------------------------------------------------------------------------
def read_power(path: Path, num_beams: int | None = contract.NUM_BEAMS) -> np.ndarray:
    """The per-beam linear power as float32 (NaN entries are kept); ``num_beams`` None takes any
    number (one array of several, checked against the others by the reader)."""
    text = _read_bytes(path).decode("ascii", errors="replace")
    tokens = text.split()
    try:
        values = np.array([float(t) for t in tokens], dtype=np.float64)
    except ValueError as exc:
        raise DeepSenseError(f"non-numeric power value ({exc})", file=path) from None
    if num_beams is not None and values.size != num_beams:
        raise DeepSenseError(f"expected {num_beams} power values, found {values.size}", file=path)
    if np.isinf(values).any():
        raise DeepSenseError("infinite power value", file=path)
    if (values[~np.isnan(values)] < 0).any():
        raise DeepSenseError("negative linear power", file=path)
    return values.astype(np.float32)


def write_power(path: Path, power: np.ndarray) -> None:
    Path(path).write_text("".join(f"{float(v)!r}\n" for v in np.asarray(power, dtype=np.float32)))


# --- GPS ---------------------------------------------------------------------------------
def read_gps(path: Path) -> np.ndarray:
    """(latitude, longitude) in degrees as float64; (NaN, NaN) for a file that says there is no fix."""
    text = _read_bytes(path).decode("ascii", errors="replace")
    tokens = text.split()
    if len(tokens) < 2:
        raise DeepSenseError(f"expected latitude and longitude lines, found {len(tokens)} value(s)",
                             file=path)
    try:
        lat, lon = float(tokens[0]), float(tokens[1])
    except ValueError:
        raise DeepSenseError(f"non-numeric GPS value in {tokens[:2]}", file=path) from None
    if math.isnan(lat) and math.isnan(lon):       # a receiver without a fix writes NaN: no fix, not an error
        return np.array([lat, lon], dtype=np.float64)
    if not (-90.0 <= lat <= 90.0) or not (-180.0 <= lon <= 180.0):
        raise DeepSenseError(f"latitude {lat} / longitude {lon} out of range", file=path)
    return np.array([lat, lon], dtype=np.float64)


def write_gps(path: Path, latlon) -> None:
    lat, lon = (float(v) for v in latlon)
    Path(path).write_text(f"{lat!r}\n{lon!r}\n")


# --- radar -------------------------------------------------------------------------------
def _mat_array(path: Path, prefer: tuple[str, ...]) -> np.ndarray:
    import scipy.io
    try:
        mat = scipy.io.loadmat(str(path))
    except FileNotFoundError:
        raise DeepSenseError("file not found", file=path) from None
    except Exception as exc:  # scipy raises several types for corrupt files
        raise DeepSenseError(f"not a readable .mat file ({exc})", file=path) from None
    arrays = {k: v for k, v in mat.items() if not k.startswith("__") and isinstance(v, np.ndarray)}
    for name in prefer:
        for k, v in arrays.items():
            if name in k.lower():
                return v
    if len(arrays) == 1:
        return next(iter(arrays.values()))
    raise DeepSenseError(f"cannot tell which variable holds the data among {sorted(arrays)}",
                         file=path)


def check_radar(cube: np.ndarray, path=None) -> np.ndarray:
    """Validate a radar cube's shape and type; return it as complex64."""
    cube = np.asarray(cube)
    if not np.iscomplexobj(cube):
        raise DeepSenseError(f"radar cube must be complex, got {cube.dtype}", file=path)
    ok = (cube.ndim == 3 and cube.shape[0] == contract.RADAR_NUM_RX
          and cube.shape[1] == contract.RADAR_NUM_SAMPLES
          and cube.shape[2] in contract.RADAR_CHIRP_COUNTS)
    if not ok:
        expected = " or ".join(f"({contract.RADAR_NUM_RX}, {contract.RADAR_NUM_SAMPLES}, {c})"
                               for c in contract.RADAR_CHIRP_COUNTS)
        raise DeepSenseError(f"radar cube has shape {cube.shape}, expected {expected}", file=path)
    return np.ascontiguousarray(cube, dtype=np.complex64)


def read_radar(path: Path) -> np.ndarray:
    path = Path(path)
    if path.suffix.lower() == ".mat":
        cube = _mat_array(path, ("radar", "data"))
    else:
        try:
            cube = np.load(path, allow_pickle=False)
        except FileNotFoundError:
            raise DeepSenseError("file not found", file=path) from None
        except Exception as exc:  # a mangled header reaches numpy's literal parser: SyntaxError, TokenError
            raise DeepSenseError(f"not a readable .npy file ({type(exc).__name__}: {exc})",
                                 file=path) from None
    return check_radar(cube, path)


def write_radar(path: Path, cube: np.ndarray) -> None:
    path = Path(path)
    cube = check_radar(cube, path)
    if path.suffix.lower() == ".mat":
        import scipy.io
        scipy.io.savemat(str(path), {"radar_data": cube})
    else:
        with open(path, "wb") as fh:   # np.save(path) would append .npy to odd suffixes
            np.save(fh, cube, allow_pickle=False)


# --- LiDAR -------------------------------------------------------------------------------
def read_lidar(path: Path) -> np.ndarray:
    """(N, 4) float32 x, y, z, intensity (intensity 0 when the file has none)."""
    path = Path(path)
    if path.suffix.lower() == ".mat":
        arr = np.asarray(_mat_array(path, ("lidar", "points", "data")), dtype=np.float64)
        if arr.ndim != 2 or (arr.shape[1] < 3 and arr.shape[0] < 3):
            raise DeepSenseError(f"LiDAR array has shape {arr.shape}, expected (N, 3+)", file=path)
        if arr.shape[1] < 3 or (arr.shape[0] in (3, 4) and arr.shape[1] > 4):
            arr = arr.T
        pts = np.zeros((arr.shape[0], 4), dtype=np.float32)
        pts[:, :min(4, arr.shape[1])] = arr[:, :4]
        return pts
    data = _read_bytes(path)
    fast = _read_ascii_vertex_ply(data, path)
    if fast is not None:
        return fast
    from plyfile import PlyData
    try:
        ply = PlyData.read(str(path))      # from the path: plyfile memory-maps binary bodies
    except Exception as exc:  # plyfile raises PlyParseError, ValueError, struct errors
        raise DeepSenseError(f"not a readable PLY file ({exc})", file=path) from None
    if "vertex" not in ply:
        raise DeepSenseError("PLY file has no 'vertex' element", file=path)
    v = ply["vertex"].data
    return _xyzi(v.dtype.names or (), lambda c: v[c], len(v), path)


def _xyzi(names, column, n: int, path) -> np.ndarray:
    missing = [c for c in ("x", "y", "z") if c not in names]
    if missing:
        raise DeepSenseError(f"PLY vertex lacks field(s) {missing}", file=path)
    pts = np.zeros((n, 4), dtype=np.float32)
    for i, c in enumerate(("x", "y", "z", "intensity")):
        if c in names:
            pts[:, i] = column(c)
    return pts


def _read_ascii_vertex_ply(data: bytes, path) -> np.ndarray | None:
    """Fast path for the DeepSense case: ASCII PLY whose only element is 'vertex' with scalars.

    plyfile parses ASCII bodies row by row in Python (about 0.2 s for a 16k-point DeepSense
    scan, which would dominate conversion); numpy's C parser reads the same body in about a
    tenth of that.  Anything else (binary, list properties, several elements) returns None
    and goes through plyfile.
    """
    end = data.find(b"end_header", 0, 4096)
    if not data.startswith(b"ply") or end < 0:
        return None
    header = data[:end].decode("ascii", errors="replace").split("\n")
    if not any(line.strip() == "format ascii 1.0" for line in header):
        return None
    elements = [line.split() for line in header if line.startswith("element")]
    props = [line.split() for line in header if line.startswith("property")]
    try:
        if len(elements) != 1 or elements[0][1] != "vertex" or any(p[1] == "list" for p in props):
            return None
        n = int(elements[0][2])
        names = [p[2] for p in props]
        body = data[data.index(b"\n", end) + 1:]
    except (IndexError, ValueError):
        raise DeepSenseError("malformed PLY header (element / property lines)", file=path) from None
    if n < 0:
        raise DeepSenseError(f"PLY header gives {n} vertices", file=path)
    try:
        table = np.loadtxt(io.BytesIO(body), dtype=np.float64, ndmin=2, max_rows=n)
    except ValueError as exc:
        raise DeepSenseError(f"not a readable PLY file ({exc})", file=path) from None
    if table.shape != (n, len(names)) and not (n == 0 and table.size == 0):
        raise DeepSenseError(f"PLY body has {table.shape[0]} rows of {table.shape[-1]} values, header "
                             f"says {n} of {len(names)}", file=path)
    return _xyzi(names, lambda c: table[:, names.index(c)], n, path)


def write_lidar(path: Path, points: np.ndarray, ascii_ply: bool = True) -> None:
    """Write (N, 4) points. PLY follows DeepSense: x, y, z as double, intensity as ushort."""
    path = Path(path)
    if path.suffix.lower() == ".mat":
        import scipy.io
        scipy.io.savemat(str(path), {"lidar_points": np.asarray(points, dtype=np.float64)})
        return
    # DeepSense's ASCII layout, written with numpy (plyfile's text writer takes ~0.8 s for 16k
    # points); '%.9g' round-trips float32 exactly.  Binary goes through plyfile.
    pts = np.asarray(points, dtype=np.float32)
    intensity = np.clip(np.rint(pts[:, 3]), 0, 65535).astype(np.uint16)
    if ascii_ply:
        with open(path, "w") as fh:
            fh.write("ply\nformat ascii 1.0\nelement vertex %d\nproperty double x\nproperty double y\n"
                     "property double z\nproperty ushort intensity\nend_header\n" % len(pts))
            np.savetxt(fh, np.column_stack([pts[:, :3].astype(np.float64), intensity]),
                       fmt=("%.9g", "%.9g", "%.9g", "%d"))
        return
    from plyfile import PlyData, PlyElement
    rec = np.empty(len(pts), dtype=[("x", "f8"), ("y", "f8"), ("z", "f8"), ("intensity", "u2")])
    rec["x"], rec["y"], rec["z"], rec["intensity"] = pts[:, 0], pts[:, 1], pts[:, 2], intensity
    PlyData([PlyElement.describe(rec, "vertex")], text=False).write(str(path))


# --- camera ------------------------------------------------------------------------------
def check_jpeg(data: bytes, path=None) -> bytes:
    """Reject data that is not a complete JPEG (start and end-of-image markers)."""
    if len(data) < 4 or not data.startswith(JPEG_SOI):
        raise DeepSenseError("not a JPEG (no start-of-image marker)", file=path)
    # Encoders may pad after the end-of-image marker; it must sit near the end.
    if JPEG_EOI not in data[-64:]:
        raise DeepSenseError("truncated JPEG (no end-of-image marker)", file=path)
    return data


def read_jpeg(path: Path) -> bytes:
    return check_jpeg(_read_bytes(path), path)
