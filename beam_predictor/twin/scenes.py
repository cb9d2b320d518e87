"""The twin's environments, and the check that their materials exist at the carrier (no Sionna import).

``twin.scene`` picks one; every scene has movable cars named ``car_*`` and the same sensors.

* ``street_canyon``: Sionna RT's built-in ``simple_street_canyon_with_cars``, a street
  about 19 m between facades (brick, marble, concrete, glass, wood) with 8 cars.  Its
  brick and marble have no ITU parameters at 60 GHz; config/twin.yaml maps them to
  concrete (``scene_materials``).
* ``boulevard``: the project's own, built here from boxes and Sionna's low-poly car mesh.
  A 34 m wide boulevard: four lanes around a planted median with two trees (wooden trunk
  and canopy) and metal lamp posts, a parking lane on the north kerb, a glass-and-metal
  bus shelter, a side street opening to the north, and facades of glass, concrete and
  metal cladding.  The base station stands on a 6 m pole on the south sidewalk.
  config/twin_boulevard.yaml holds its geometry (array position, lanes, parking, PA
  waveguide); README "Second scene" lists what differs.

Materials are ITU-R P.2040 types; :func:`check_materials` refuses a scene whose material
has no parameters at the carrier (after ``scene_materials`` substitutions), naming it.
"""
from __future__ import annotations

from beam_predictor.config import ConfigError

SCENES = ("street_canyon", "boulevard")
BUILTIN = {"street_canyon": "simple_street_canyon_with_cars"}
NUM_CARS = 8

# boulevard: (id, material, (x_min, y_min, z_min), (x_max, y_max, z_max)) in metres
BOULEVARD_BOXES = (
    ("south_glass_office", "glass", (-45.0, -36.0, 0.0), (-4.0, -14.0, 24.0)),
    ("south_concrete_block", "concrete", (4.0, -36.0, 0.0), (48.0, -14.0, 15.0)),
    ("north_concrete_block", "concrete", (-65.0, 20.0, 0.0), (-10.0, 46.0, 18.0)),
    ("north_glass_tower", "glass", (2.0, 20.0, 0.0), (30.0, 46.0, 40.0)),
    ("north_metal_warehouse", "metal", (30.0, 20.0, 0.0), (70.0, 40.0, 10.0)),
    ("median_kerb", "concrete", (-70.0, -1.5, 0.0), (70.0, 1.5, 0.25)),
    ("tree_west_trunk", "wood", (-12.3, -0.3, 0.0), (-11.7, 0.3, 3.0)),
    ("tree_west_canopy", "wood", (-14.0, -1.4, 3.0), (-10.0, 1.4, 7.0)),
    ("tree_east_trunk", "wood", (11.7, -0.3, 0.0), (12.3, 0.3, 3.0)),
    ("tree_east_canopy", "wood", (10.0, -1.4, 3.0), (14.0, 1.4, 7.0)),
    ("lamp_post_1", "metal", (-30.1, -0.1, 0.0), (-29.9, 0.1, 8.0)),
    ("lamp_post_2", "metal", (-0.1, -0.1, 0.0), (0.1, 0.1, 8.0)),
    ("lamp_post_3", "metal", (29.9, -0.1, 0.0), (30.1, 0.1, 8.0)),
    ("bus_shelter_roof", "metal", (-18.0, 13.5, 2.4), (-12.0, 15.5, 2.6)),
    ("bus_shelter_back", "glass", (-18.0, 15.4, 0.0), (-12.0, 15.5, 2.4)),
)
BOULEVARD_PARKED = ((-36.0, 11.5), (-24.0, 11.5), (-6.0, 11.5), (6.0, 11.5), (18.0, 11.5), (36.0, 11.5),
                    (46.0, 11.5), (-46.0, 11.5))
THICKNESS_M = {"glass": 0.01, "metal": 0.01, "wood": 0.1, "concrete": 0.3}


def boulevard_xml(car_mesh: str) -> str:
    """The Mitsuba scene description of the boulevard (boxes, floor and ``NUM_CARS`` cars)."""
    mats = sorted({m for _, m, _, _ in BOULEVARD_BOXES} | {"concrete", "metal"})
    parts = ['<scene version="2.1.0">']
    for m in mats:
        parts.append(f'<bsdf type="itu-radio-material" id="mat-{m}"><string name="type" value="{m}"/>'
                     f'<float name="thickness" value="{THICKNESS_M.get(m, 0.1)}"/></bsdf>')
    parts.append('<shape type="rectangle" id="floor"><transform name="to_world"><scale x="120" y="80"/>'
                 '</transform><ref id="mat-concrete" name="bsdf"/></shape>')
    for name, mat, lo, hi in BOULEVARD_BOXES:
        half = [(b - a) / 2 for a, b in zip(lo, hi)]
        centre = [(a + b) / 2 for a, b in zip(lo, hi)]
        parts.append(f'<shape type="cube" id="{name}"><transform name="to_world">'
                     f'<scale x="{half[0]}" y="{half[1]}" z="{half[2]}"/>'
                     f'<translate x="{centre[0]}" y="{centre[1]}" z="{centre[2]}"/></transform>'
                     f'<ref id="mat-{mat}" name="bsdf"/></shape>')
    for i, (x, y) in enumerate(BOULEVARD_PARKED[:NUM_CARS], start=1):
        parts.append(f'<shape type="ply" id="car_{i}"><string name="filename" value="{car_mesh}"/>'
                     f'<transform name="to_world"><translate x="{x}" y="{y}" z="0"/></transform>'
                     f'<ref id="mat-metal" name="bsdf"/></shape>')
    parts.append("</scene>")
    return "\n".join(parts)


def check_materials(scene: str, used: dict[str, str], substitutes: dict, frequency_hz: float,
                    ranges: dict) -> dict[str, str]:
    """The ITU type each scene material is rendered with, or a ConfigError naming the culprit.

    ``used`` maps the scene's material names to their ITU types, ``substitutes`` (config
    ``scene_materials``) ITU types to the ones used instead, ``ranges`` each ITU type to its
    frequency ranges in GHz (Sionna's ITU table).
    """
    ghz = frequency_hz / 1e9
    out = {}
    for name, itu in sorted(used.items()):
        target = substitutes.get(itu, itu)
        if target not in ranges:
            raise ConfigError(f"scene_materials.{itu}: '{target}' is not an ITU material; "
                              f"known: {sorted(ranges)}")
        if not any(lo <= ghz < hi for lo, hi in ranges[target]):
            spans = ", ".join(f"{lo:g}-{hi:g} GHz" for lo, hi in ranges[target])
            key = f"scene_materials.{itu}" if itu in substitutes else f"scene '{scene}' material '{name}'"
            raise ConfigError(f"{key}: ITU '{target}' has no parameters at {ghz:g} GHz (defined {spans}); "
                              f"map it to one that has in the twin config's scene_materials "
                              f"(e.g. {itu}: concrete)")
        out[name] = target
    return out
