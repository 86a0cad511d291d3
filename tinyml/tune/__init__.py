"""`tinyml tune`: a search over model shapes that runs the pipeline once per trial (train, int8 PTQ,
accuracy in TFLM, the AOT firmware on the emulator) and keeps what fits the board's budget. Like the
demo it drives every stage, so it sits above them: cli (the command), space (what is searched and how a
trial is judged), study (the results on disk), trial (one trial), runner (Ray Tune and Optuna).
"""
