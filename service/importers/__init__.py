"""Third-party model files -> our own PyTorch modules, TorchScript and model_store manifests.

`tflite_graph` reads a .tflite flatbuffer into operators and dense float32 weights; `blazepose`
rebuilds MediaPipe's BlazePose files from it and checks them against the TFLite interpreter;
`openpose` checks and loads OpenPose's `body_pose_model.pth` into `network.openpose` (plain
torch); `tf_graphdef` (frozen GraphDef) and `tfjs_graph` (TensorFlow.js model.json + shards)
read TensorFlow graphs without TensorFlow, `tf_torch` rebuilds them in PyTorch (`tf_ops`: TF's
exact padding and resizing) and `tf_interpret` interprets them op by op in NumPy for the check;
`tfpose` and `human_models` (MoveNet MultiPose, `movenet_export`) use them; `command` is
`boxpose import KIND ...`. Reading .tflite files needs the `import` extra
(`pip install -e '.[import]'`); nothing here is imported at serving time.
"""
