"""Third-party model files -> our own PyTorch modules, TorchScript and model_store manifests.

`tflite_graph` reads a .tflite flatbuffer into operators and dense float32 weights; `blazepose`
rebuilds MediaPipe's BlazePose files from it and checks them against the TFLite interpreter;
`openpose` checks and loads OpenPose's `body_pose_model.pth` into `network.openpose` (plain
torch); `command` is `boxpose import KIND ...`. Reading .tflite files needs the `import` extra
(`pip install -e '.[import]'`); nothing here is imported at serving time.
"""
