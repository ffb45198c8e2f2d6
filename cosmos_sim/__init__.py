"""cosmos-sim: robotics planning and simulation on video world foundation models.

The offscreen GL backend is chosen here, before any submodule imports ``mujoco``, because
MuJoCo reads ``MUJOCO_GL`` once, at import (see ``cosmos_sim.rendering``).
"""

from cosmos_sim.rendering import select_gl_backend

select_gl_backend()

__version__ = "0.1.0"
