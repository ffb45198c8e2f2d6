"""Episode datasets in the LeRobot v3.0 on-disk layout: a parallel, resumable writer and a checked reader.

Layout (LeRobot ``CODEBASE_VERSION = "v3.0"``, see huggingface/lerobot ``datasets/utils.py`` and the
"LeRobotDataset v3.0" blog post); several episodes share each parquet and mp4 file:

```
root/
  meta/info.json                                  schema, fps, totals, path templates (written last)
  meta/stats.json                                 mean/std/min/max/count per feature, all episodes
  meta/tasks.parquet                              task (pandas index) -> task_index
  meta/episodes/chunk-000/file-000.parquet        one row per episode: length, file and row/time
                                                  ranges, tasks, per-episode stats, our ``meta/json``
  data/chunk-000/file-000.parquet                 one row per frame: tabular features + timestamp,
                                                  frame_index, episode_index, index, task_index
  videos/<video_key>/chunk-000/file-000.mp4       the episodes' frames back to back
```

Our additions to the LeRobot schema: the episodes table has a ``meta/json`` column (the JSON text of
the ``meta`` dict given to ``write_episode``: seed, policy, scene parameters), and ``info.json``
holds ``tasks_description`` and the writer's ``info_extra`` keys. LeRobot readers ignore both.

Modules: ``layout`` (paths, ``FeatureSpec``, column and stats encodings, atomic file writes, shared by
both sides), ``staging`` (one episode staged by ``write_episode``), ``writer`` (``EpisodeWriter``:
staging and ``finalize``) and ``reader`` (``EpisodeDataset``).
"""

from cosmos_sim.data.lerobot.layout import (
    CODEBASE_VERSION,
    DATA_PATH,
    EPISODES_PATH,
    FEATURE_DTYPES,
    INDEX_FEATURES,
    INFO_PATH,
    STAGING_DIR,
    STAT_NAMES,
    STATS_PATH,
    TASKS_PATH,
    VIDEO_NAMES,
    VIDEO_PATH,
    DatasetError,
    FeatureSpec,
)
from cosmos_sim.data.lerobot.reader import EpisodeDataset
from cosmos_sim.data.lerobot.writer import EpisodeWriter

__all__ = [
    "CODEBASE_VERSION",
    "DATA_PATH",
    "EPISODES_PATH",
    "FEATURE_DTYPES",
    "INDEX_FEATURES",
    "INFO_PATH",
    "STAGING_DIR",
    "STAT_NAMES",
    "STATS_PATH",
    "TASKS_PATH",
    "VIDEO_NAMES",
    "VIDEO_PATH",
    "DatasetError",
    "EpisodeDataset",
    "EpisodeWriter",
    "FeatureSpec",
]
