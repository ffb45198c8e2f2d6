"""Ground-truth MuJoCo scenes: PushBlock, passive physics scenarios, CameraOrbit."""
