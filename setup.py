"""ament_python package definition of beam_predictor."""
from glob import glob

from setuptools import find_packages, setup

PACKAGE = "beam_predictor"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test", "test.*"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.py")),
        (f"share/{PACKAGE}/config", glob("config/*.yaml") + glob("config/*.rviz") + glob("config/*.xml")),
        (f"share/{PACKAGE}/models", glob("models/*.pt")),
        (f"share/{PACKAGE}/models/encoders", glob("models/encoders/*.pt")),
        (f"share/{PACKAGE}/config/bench", glob("config/bench/*.yaml")),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="beam_predictor maintainers",
    maintainer_email="maintainers@beam-predictor.invalid",
    description="Multimodal sensing-aided mmWave beam prediction with LLMs for ROS 2",
    license="Apache-2.0",
    tests_require=["pytest"],
    entry_points={
        "console_scripts": [
            "beam-predictor = beam_predictor.cli:main",
            "bag_player = beam_predictor.nodes.player_node:main",
            "yolo_tracker = beam_predictor.nodes.tracker_node:main",
            "feature_encoder = beam_predictor.nodes.encoder_node:main",
            "llm_fusion = beam_predictor.nodes.fusion_node:main",
            "llm_pass = beam_predictor.nodes.pass_node:main",
            "beamformer = beam_predictor.nodes.beamformer_node:main",
        ],
    },
)
