"""Ground-truth MuJoCo scenes. Importing this package picks the offscreen GL backend first,
because MuJoCo reads ``MUJOCO_GL`` once, when it is imported."""

from cosmos_sim.envs.mujoco.rendering import select_gl_backend

select_gl_backend()
