"""hetero_act: ACT with heterogeneous camera cross-attention, as a LeRobot policy plugin.

Importing this package registers `policy.type=hetero_act` with LeRobot's config registry (and
`env.type=aloha_multicam`, the multi-camera ALOHA sim; that import loads no MuJoCo). LeRobot
then finds `HeteroACTPolicy` in `modeling_hetero_act` and `make_hetero_act_pre_post_processors` in
`processor_hetero_act` by its naming convention; that module is imported here too, because a saved
preprocessor names its observation-check step, which LeRobot looks up in its step registry when it
loads the pipeline from a checkpoint (lerobot-eval, fine-tuning) without importing the module. It also lets LeRobot's parser compute the default
video backend without trying torchcodec where it cannot load (see video_backend.py).
"""

from . import processor_hetero_act  # noqa: F401  (registers the observation-check processor step)
from .configuration_hetero_act import HeteroACTConfig
from .sim import env_config  # noqa: F401  (registers env.type=aloha_multicam)
from .video_backend import use_video_backend_as_parser_default

use_video_backend_as_parser_default()  # no torchcodec traceback while LeRobot's CLIs parse flags

__all__ = ["HeteroACTConfig"]
__version__ = "0.1.0"
