"""Resolve DeepSense CSV columns by role rather than by one exact header.

Scenarios 31-34 and scenario 9 (and 41 and others) name the same things differently
(``unit1_beam`` / ``unit1_beam_index``, ``unit2_loc`` / ``unit2_loc_cal``,
``time_stamp`` / ``time_stamp[UTC]``).  Each role lists the headers known to carry it;
matching ignores case and surrounding spaces.  Columns that fill no role are kept
verbatim as frame extras.

A base station with several phased arrays (scenario 41: three arrays of 64 beams) has one
power column per array, ``unit1_pwr_60ghz_1``, ``unit1_pwr_60ghz_2``, ... (also
``unit1_pwr_1`` or ``unit1_pwr1``); two or more of them fill ``Schema.power_arrays``, in
array order, instead of the single power role.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from beam_predictor.deepsense.errors import DeepSenseError

ROLE_CANDIDATES: dict[str, tuple[str, ...]] = {
    "index": ("index", "abs_index"),
    "camera": ("unit1_rgb", "unit1_rgb_1", "unit1_camera"),
    "power": ("unit1_pwr_60ghz", "unit1_pwr", "unit1_power_60ghz", "unit1_power"),
    "lidar": ("unit1_lidar", "unit1_lidar_1"),
    "radar": ("unit1_radar", "unit1_radar_1"),
    "ue_loc": ("unit2_loc", "unit2_loc_cal", "unit2_loc_1", "unit2_gps"),
    "bs_loc": ("unit1_loc", "unit1_gps"),
    "beam": ("unit1_beam", "unit1_beam_index", "beam_index"),
    "time": ("time_stamp", "time_stamp[utc]", "timestamp", "time"),
    "seq": ("seq_index", "seq_idx", "sequence", "seq"),
    "ue_altitude": ("unit2_altitude",),
}
FILE_ROLES = ("camera", "power", "lidar", "radar", "ue_loc", "bs_loc")
ARRAY_POWER = re.compile(r"^unit1_(?:pwr|power)(?:_60ghz)?_?(\d+)$")
# The other users of a multi-user scenario (DeepSense has one UE, unit2; units 3, 4, ... follow its pattern).
USER_LOC = re.compile(r"^unit([3-9]|[1-9]\d+)_loc$")


@dataclass(frozen=True)
class Schema:
    """Which CSV header fills each role (``None`` when the scenario lacks it)."""

    columns: tuple[str, ...]
    roles: dict[str, str | None]
    power_arrays: tuple[str, ...] = ()       # one power column per array (several arrays), in order
    user_locs: tuple[tuple[int, str], ...] = ()   # (unit, column) of every other user's GPS file

    def column(self, role: str) -> str | None:
        return self.roles.get(role)

    @property
    def extra_columns(self) -> tuple[str, ...]:
        used = ({c for c in self.roles.values() if c is not None} | set(self.power_arrays)
                | {c for _, c in self.user_locs})
        return tuple(c for c in self.columns if c not in used)


def resolve_schema(columns, source: str = "CSV") -> Schema:
    """Match ``columns`` to roles; raise on a schema that lacks what every scenario has."""
    columns = tuple(columns)
    by_key = {}
    for c in columns:
        by_key.setdefault(c.strip().lower(), c)
    roles: dict[str, str | None] = {}
    for role, candidates in ROLE_CANDIDATES.items():
        roles[role] = next((by_key[c] for c in candidates if c in by_key), None)
    arrays = sorted(((int(m.group(1)), c) for c in columns if (m := ARRAY_POWER.match(c.strip().lower()))))
    power_arrays: tuple[str, ...] = ()
    if roles["power"] is None and len(arrays) == 1:
        roles["power"] = arrays[0][1]
    elif roles["power"] is None and len(arrays) > 1:
        power_arrays = tuple(c for _, c in arrays)
    problems = []
    if roles["ue_loc"] is None:
        problems.append(f"no UE position column (tried {list(ROLE_CANDIDATES['ue_loc'])})")
    if roles["power"] is None and roles["beam"] is None and not power_arrays:
        problems.append("no beam-power or beam-index column (tried "
                        f"{list(ROLE_CANDIDATES['power']) + list(ROLE_CANDIDATES['beam'])})")
    if problems:
        raise DeepSenseError(f"unknown CSV schema: {'; '.join(problems)}; columns are {list(columns)}",
                             file=source)
    users = tuple(sorted((int(m.group(1)), c) for c in columns if (m := USER_LOC.match(c.strip().lower()))))
    return Schema(columns=columns, roles=roles, power_arrays=power_arrays, user_locs=users)
