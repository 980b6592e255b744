"""Plugin entry point that LeRobot imports by distribution name.

LeRobot's ``register_third_party_plugins()`` imports every installed distribution named
``lerobot_policy_*`` as a module of the same name. Importing this module imports
``lerobot_hetero_act``, whose import registers ``policy.type=hetero_act`` (and the
``aloha_multicam`` environment) with LeRobot's config registries.
"""

import lerobot_hetero_act  # noqa: F401  (import registers the config classes)
