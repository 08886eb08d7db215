"""Benchmarks of cnnlab's hot paths, measured in one process so the ratios are fair.

    python bench/run.py [--quick] [--json]

Prints one line per figure; with --json the last stdout line is one JSON object with them all.
Figures: train_images_per_s (cnnlab's train(), callbacks included) against bare_fit_images_per_s
(a plain model.fit of the same network on the same arrays), their ratio, achieved GFLOP/s against
a NumPy matmul's, cache_hit_s, feature_maps_ms, predict_drawing_ms, home_import_s, time to
accuracy (default network to 97 % on the MNIST sample; the Fashion-MNIST CNN to 90 % on the full
set where installed), peak memory of a training process and of the app server after ten
browser sessions opened every page (where Chromium is installed).
"""

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("CNNLAB_OFFLINE", "1")


def bench_dataset(architecture, size):
    """The data a preset trains on here: the MNIST sample for 28×28 presets, random 32×32 colour images otherwise.

    Speed does not depend on what the pictures show, so CIFAR-10's presets are timed without CIFAR-10's files.
    """
    import numpy as np

    from cnnlab.data import catalogue, datasets
    from cnnlab.networks import architectures

    if "28x28x1" in architectures.get_preset(architecture).params:
        return datasets.load("mnist")
    rng = np.random.default_rng(0)
    return datasets.Dataset(info=catalogue.get_info("cifar10"), source=catalogue.Source("data-dir", "random images"),
                            x_train=rng.integers(0, 256, (size, 32, 32, 3), dtype=np.uint8),
                            y_train=rng.integers(0, 10, size, dtype=np.uint8),
                            x_test=rng.integers(0, 256, (500, 32, 32, 3), dtype=np.uint8),
                            y_test=rng.integers(0, 10, 500, dtype=np.uint8))


def images_per_second(architecture, epochs, train_size, repeats):
    """([cnnlab train() images/s], [bare fit images/s]) of `repeats` pairs, the pair's order alternating.

    Speeds are of the steady epochs (every epoch after the first, which also builds and traces the network in
    both): the throughput a student gets once training runs. What comes before the first epoch is measured
    on its own (app_path_figures: first epoch and wall time against a steady epoch).
    """
    import keras
    import numpy as np

    from cnnlab import training
    from cnnlab.data import datasets
    from cnnlab.networks import keras_build

    data = bench_dataset(architecture, train_size)
    config = training.TrainConfig(dataset=data.info.name, architecture=architecture, epochs=epochs, batch_size=128,
                                  train_size=train_size, validation_split=0.0)
    x = datasets.preprocess_images(data.x_train[:train_size])
    y = np.asarray(data.y_train[:train_size])
    ours, bare = [], []
    steady = train_size * (epochs - 1)

    def run_ours():
        result = training.train(config, dataset=data, on_epoch_end=lambda e, logs: None,
                                on_batch_end=lambda b, logs: None)
        ours.append(steady / sum(result.epoch_seconds[1:]))

    class Clock(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.seconds = []

        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self.started)

    def run_bare():
        keras.utils.set_random_seed(0)
        model = keras_build.build(config.layers, data.info.image_shape, 10)
        model.compile(optimizer=keras.optimizers.Adam(), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        clock = Clock()
        model.fit(x, y, batch_size=128, epochs=epochs, verbose=0, callbacks=[clock])
        bare.append(steady / sum(clock.seconds[1:]))

    # the order alternates so that neither always runs on a warmer process
    for repeat in range(repeats):
        for run in ((run_ours, run_bare) if repeat % 2 == 0 else (run_bare, run_ours)):
            run()
    return ours, bare


def bench_size(architecture, size):
    """Training images per epoch for a preset: fewer for the heavy 32×32 colour networks, so each run stays short."""
    from cnnlab.networks import architectures, counting

    preset = architectures.get_preset(architecture)
    shape = (28, 28, 1) if "28x28x1" in preset.params else (32, 32, 3)
    heavy = counting.flops_per_image(preset.layers, shape, 10) > 30e6
    return size // 3 if heavy else size


def torch_images_per_second(epochs, train_size, repeats):
    """PyTorch eager training of net_1 (same layers, Adam, batch 128) on the same arrays; None without torch.

    What a student comparing frameworks would write: NCHW tensors, a shuffled index each epoch, all cores.
    """
    try:
        import torch
    except ImportError:
        return None
    import numpy as np

    from cnnlab.data import datasets

    data = datasets.load("mnist")
    x = torch.from_numpy(datasets.preprocess_images(data.x_train[:train_size]).transpose(0, 3, 1, 2).copy())
    y = torch.from_numpy(np.asarray(data.y_train[:train_size], dtype=np.int64))
    torch.set_num_threads(os.cpu_count())
    speeds = []
    for repeat in range(repeats):
        torch.manual_seed(repeat)
        nn = torch.nn
        model = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Flatten(), nn.Linear(64 * 12 * 12, 128), nn.ReLU(), nn.Linear(128, 10))
        optimizer = torch.optim.Adam(model.parameters(), lr=0.001)
        loss_of = nn.CrossEntropyLoss()
        seconds = []
        for _ in range(epochs):
            started = time.perf_counter()
            order = torch.randperm(train_size)
            for i in range(0, train_size, 128):
                batch = order[i:i + 128]
                optimizer.zero_grad()
                loss = loss_of(model(x[batch]), y[batch])
                loss.backward()
                optimizer.step()
            seconds.append(time.perf_counter() - started)
        speeds.append(train_size * (epochs - 1) / sum(seconds[1:]))  # steady epochs, as images_per_second
    return speeds


def flops_per_image(architecture, image_shape=(28, 28, 1), num_classes=10):
    """Forward-pass floating-point operations for one image of a preset (a multiply-add counts 2)."""
    from cnnlab.networks import architectures, counting

    return counting.flops_per_image(architectures.get_preset(architecture).layers, image_shape, num_classes)


def numpy_matmul_gflops(size=2048, repeats=5, trials=3):
    """The best of `trials` timings of `repeats` float32 matmuls: the peak this machine's BLAS reaches."""
    import numpy as np

    a = np.random.default_rng(0).random((size, size), dtype=np.float32)
    a @ a
    best = 0.0
    for _ in range(trials):
        started = time.perf_counter()
        for _ in range(repeats):
            a @ a
        best = max(best, 2 * size ** 3 * repeats / (time.perf_counter() - started) / 1e9)
    return best


def predict_drawing_ms(repeats=20):
    """A 280×280 RGBA canvas image through the drawing preprocessing and the bundled model (warm)."""
    import numpy as np

    from bench import drawings
    from cnnlab.insight import drawing

    model = drawing.bundled().build_model()
    grey = drawings.stroke_digit(7, np.random.default_rng(0))
    canvas = np.dstack([grey, grey, grey, np.full_like(grey, 255)])  # what st_canvas returns
    drawing.classify(model, drawing.prepare(canvas).network_input)  # warm
    started = time.perf_counter()
    for _ in range(repeats):
        drawing.classify(model, drawing.prepare(canvas).network_input)
    return (time.perf_counter() - started) / repeats * 1000


def seconds_to_accuracy(dataset, architecture, target, max_epochs, **settings):
    """Seconds from train() until validation accuracy first reaches target (None if it never does).

    Building and tracing the network count: they are part of what a student waits for.
    """
    from cnnlab import training
    from cnnlab.data import datasets

    try:
        data = datasets.load(dataset)
    except datasets.DatasetUnavailable:
        return None, None, "not installed"
    if data.variant == "sample" and dataset != "mnist":
        return None, None, "sample only"
    reached = {}

    def on_epoch_end(epoch, logs):
        if "seconds" not in reached and logs.get("val_accuracy", 0) >= target:
            reached["seconds"], reached["epoch"] = round(time.perf_counter() - started, 2), epoch + 1

    def should_stop():
        return "seconds" in reached

    config = training.TrainConfig(dataset=dataset, architecture=architecture, epochs=max_epochs, **settings)
    started = time.perf_counter()
    training.train(config, dataset=data, on_epoch_end=on_epoch_end, should_stop=should_stop)
    return reached.get("seconds"), reached.get("epoch"), data.source.describe()


def training_process_peak_mb():
    """Peak resident memory of `python -m cnnlab train` (net_1, 1 epoch on the sample) as a child process: the child's
    own VmHWM, read as it exits (ru_maxrss of a child keeps the peak of the process that started it)."""
    home = tempfile.mkdtemp(prefix="cnnlab-bench-")
    wrapper = ("import atexit, runpy, sys\n"
               "atexit.register(lambda: print(next(line for line in open('/proc/self/status')\n"
               "                                   if line.startswith('VmHWM:')), file=sys.stderr))\n"
               "sys.argv = ['cnnlab', *sys.argv[1:]]\n"
               "runpy.run_module('cnnlab', run_name='__main__', alter_sys=True)\n")
    out = subprocess.run([sys.executable, "-c", wrapper, "train", "--architecture", "net_1", "--epochs", "1",
                          "--offline"], cwd=ROOT, env=dict(os.environ, CNNLAB_HOME=home), capture_output=True,
                         text=True, check=True)
    return int(out.stderr.rsplit("VmHWM:", 1)[1].split()[0]) / 1024


def server_peak_mb(sessions=10):
    """Start the app, open every page in `sessions` browser sessions, read the server's peak and final memory."""
    import socket
    import urllib.request

    chromium = "/usr/bin/chromium"
    if not os.path.exists(chromium):
        return None, None
    from playwright.sync_api import sync_playwright

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    home = tempfile.mkdtemp(prefix="cnnlab-bench-")
    env = dict(os.environ, CNNLAB_HOME=home, XDG_CONFIG_HOME=home, XDG_CACHE_HOME=home, PYTHONPATH=str(ROOT))
    subprocess.run([sys.executable, "-m", "cnnlab", "train", "--epochs", "1", "--train-size", "1000", "--offline"],
                   cwd=ROOT, env=env, capture_output=True, check=True)  # one stored run so every page has content
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port)],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        pages = ["", "Data", "Model", "Train", "Inside", "Mistakes", "Compare", "Convolution", "Draw", "Course"]
        ready = '[data-testid="stApp"][data-test-script-state="notRunning"]'
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, headless=True,
                                                 args=["--headless", "--no-sandbox", "--disable-gpu"])
            contexts = [browser.new_context() for _ in range(sessions)]
            for context in contexts:  # every session stays open while the others load
                page = context.new_page()
                for name in pages:
                    page.goto(f"{url}/{name}")
                    page.wait_for_selector(ready, timeout=120_000)
                    page.wait_for_timeout(300)
                    page.wait_for_selector(ready, timeout=120_000)
            status = pathlib.Path(f"/proc/{server.pid}/status").read_text()
            browser.close()
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        return int(fields["VmHWM"].split()[0]) / 1024, int(fields["VmRSS"].split()[0]) / 1024
    finally:
        server.terminate()
        server.wait(timeout=30)


def cache_hit_seconds():
    from cnnlab import runs, training

    store = runs.RunStore(tempfile.mkdtemp(prefix="cnnlab-bench-"))
    config = training.TrainConfig(epochs=1, train_size=1000)
    store.get_or_train(config)
    started = time.perf_counter()
    run, cached = store.get_or_train(config)
    run.build_model()
    run.predictions()
    assert cached
    return time.perf_counter() - started, run


def feature_maps_ms(run, repeats=20):
    from cnnlab.data import datasets
    from cnnlab.insight import inspection

    extractor, names = inspection.feature_extractor(run.build_model())
    image = datasets.load("mnist").x_test[0]
    inspection.feature_maps(extractor, names, image)  # warm
    started = time.perf_counter()
    for _ in range(repeats):
        inspection.feature_maps(extractor, names, image)
    return (time.perf_counter() - started) / repeats * 1000


def gradcam_ms(run, repeats=20):
    """Grad-CAM of one test image for its top class on the last conv layer (gradient model built, then warm)."""
    from cnnlab.data import datasets
    from cnnlab.insight import explain, inspection

    model = run.build_model()
    cam, layer = explain.GradCam(model), inspection.conv_layer_names(model)[-1]
    image = datasets.load("mnist").x_test[0]
    cam(image, 0, layer)  # warm: the gradient model is built once per layer
    started = time.perf_counter()
    for _ in range(repeats):
        cam(image, 0, layer)
    return (time.perf_counter() - started) / repeats * 1000


def activation_max_seconds_per_layer(architecture="net_1"):
    """Seconds to find every filter's favourite input, per conv layer of a preset (what Inside computes on demand)."""
    from cnnlab.insight import explain, inspection
    from cnnlab.networks import architectures, keras_build

    model = keras_build.build(architectures.get_preset(architecture).layers, (28, 28, 1), 10)
    layers = inspection.conv_layer_names(model)
    started = time.perf_counter()
    for layer in layers:
        explain.maximise_filters(model, layer)
    return (time.perf_counter() - started) / len(layers)


def embedding_pca_seconds(run, count=2000):
    """The Learned page's map: the last hidden layer's features of `count` test images, then PCA (model warm)."""
    from cnnlab.insight import learned

    model, images = run.build_model(), run.data().x_test[:count]
    learned.features(model, images[:10])  # warm
    started = time.perf_counter()
    learned.embedding(model, images)
    return time.perf_counter() - started


def timeline_figures(epochs=2):
    """net_1's timeline: KB per recorded epoch (compressed, as stored) and its share of a 10-epoch run's files."""
    from cnnlab import runs, training

    store = runs.RunStore(tempfile.mkdtemp(prefix="cnnlab-bench-"))
    run, _ = store.get_or_train(training.TrainConfig(architecture="net_1", epochs=epochs, train_size=1000))
    sizes = run.record["sizes"]
    per_epoch = sizes["timeline.npz"] / (epochs + 1)
    ten = 11 * per_epoch
    return round(per_epoch / 1024, 2), round(ten / (sizes["model.weights.h5"] + sizes["predictions.npz"] + ten), 4)


def home_import_seconds():
    code = ("import time, runpy, sys; t = time.perf_counter(); runpy.run_path('app.py'); "
            "print(time.perf_counter() - t, 'tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    seconds, tensorflow = out.stdout.split()[-2:]
    return float(seconds), tensorflow == "True"


def import_figures(count=2000, classes=10, size=(640, 480)):
    """A class's own pictures: a folder of `count` webcam-size photos (JPEG, some PNG) in `classes` class folders.

    import_images_per_s is the decode + resize (to 32×32 colour) speed alone; import_seconds_2000 the whole
    import as the Data page runs it (survey, decode, resize, split, store)."""
    import numpy as np
    from PIL import Image, ImageDraw

    from cnnlab.data import own_images

    root = pathlib.Path(tempfile.mkdtemp(prefix="cnnlab-bench-own-")) / "photos"
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (size[1] // 8, size[0] // 8, 3), dtype=np.uint8)
    for n in range(count):
        label = n % classes
        image = Image.fromarray(np.roll(base, n, axis=1)).resize(size, Image.BILINEAR)  # smooth, photo-like
        ImageDraw.Draw(image).ellipse([40 * label, 30, 40 * label + 200, 230], fill=(25 * label, 200, 90))
        folder = root / f"class_{label}"
        folder.mkdir(parents=True, exist_ok=True)
        fmt = "PNG" if n % 10 == 0 else "JPEG"
        image.save(folder / f"{n}.{'png' if fmt == 'PNG' else 'jpg'}", format=fmt, quality=90)
    speed = own_images.images_per_second(root, shape=(32, 32, 3))
    os.environ["CNNLAB_HOME"] = tempfile.mkdtemp(prefix="cnnlab-bench-home-")
    try:
        started = time.perf_counter()
        own_images.import_images(root, "bench_photos", shape=(32, 32, 3))
        seconds = time.perf_counter() - started
    finally:
        os.environ.pop("CNNLAB_HOME")
    return round(speed), round(seconds, 2)


def app_path_figures(epochs=5, cold=False):
    """`fast`, 5 epochs, batch 64, on the MNIST sample, trained as the Train page does and as the command line does.

    The page's path: the server's queue (its worker process, already started, as on a server in use) with the
    page's fragment polling the job and drawing its curves every second. Returns wall_to_train_ratio_fast (from
    Train to the stored run, over epochs × the steady epoch), first_epoch_to_steady_ratio_fast (from Train to
    the first epoch's point reaching the page, over a steady epoch) and app_to_cli_train_ratio_fast (the run's
    train_seconds through the page's path over the command line's).

    The worker has trained another network before (it is up, as on a server in use), and the page has asked it
    to get `fast` ready (TrainingQueue.prepare, as the Train page does while the student reads the form; 5 s).
    With cold=True nothing was prepared, so `fast` is built and traced in the student's time; the keys then
    end in _cold.
    """
    from cnnlab import runs, training
    from cnnlab.compute import jobs, worker
    from cnnlab.insight import charts

    settings = dict(architecture="fast", epochs=epochs, batch_size=64, seed=0)
    if not cold:
        out = subprocess.run([sys.executable, "-m", "cnnlab", "train", "--architecture", "fast", "--epochs",
                              str(epochs), "--batch-size", "64", "--json"], cwd=ROOT, capture_output=True, text=True,
                             check=True, env=dict(os.environ, CNNLAB_HOME=tempfile.mkdtemp(prefix="cnnlab-bench-"),
                                                  PYTHONPATH=str(ROOT)))
        cli = json.loads(out.stdout.strip().splitlines()[-1])
    store = runs.RunStore(tempfile.mkdtemp(prefix="cnnlab-bench-"))
    queue = jobs.TrainingQueue(store, worker.ProcessExecutor())
    queue.wait(queue.submit(training.TrainConfig(architecture="mlp_512", epochs=1, train_size=1000)))  # the worker is up
    if not cold:  # what the Train page does while the student reads the form: the worker gets `fast` ready
        queue.prepare(training.TrainConfig(**settings))
        time.sleep(5.0)
    asked, first_epoch, drawn = time.perf_counter(), None, 0.0
    job = queue.submit(training.TrainConfig(**settings), student="bench")
    while job.status in ("queued", "running"):
        now = time.perf_counter()
        if first_epoch is None and job.epochs_done >= 1:
            first_epoch = now - asked
        if job.history.get("loss") and now - drawn >= 1.0:  # what the Train page's fragment does each second
            charts.learning_curves(job.history, title="").to_dict()
            drawn = now
        time.sleep(0.02)
    wall = time.perf_counter() - asked
    run = store.get(job.id)
    steady = statistics.median(run.record["epoch_seconds"][1:])
    queue.executor.close()
    if cold:
        return {"wall_to_train_ratio_fast_cold": round(wall / (epochs * steady), 3),
                "first_epoch_to_steady_ratio_fast_cold": round(first_epoch / steady, 3)}
    return {"wall_to_train_ratio_fast": round(wall / (epochs * steady), 3),
            "first_epoch_to_steady_ratio_fast": round(first_epoch / steady, 3),
            "app_to_cli_train_ratio_fast": round(run.train_seconds / cli["train_seconds"], 3),
            "app_train_seconds_fast": round(run.train_seconds, 2), "cli_train_seconds_fast": round(cli["train_seconds"], 2),
            "steady_epoch_s_fast": round(steady, 3), "wall_from_train_to_run_s_fast": round(wall, 2)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs (a minute or two on 2 cores)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    epochs, size, repeats = (3, 3000, 5) if args.quick else (4, 6000, 5)
    figures = {}
    figures["numpy_matmul_gflops"] = round(numpy_matmul_gflops(), 1)
    from cnnlab.networks import architectures

    for architecture in architectures.PRESETS:
        ours, bare = images_per_second(architecture, epochs, bench_size(architecture, size), repeats)
        ratios = [a / b for a, b in zip(ours, bare)]
        figures[f"train_ratio_vs_bare_fit_{architecture}"] = round(statistics.median(ratios), 3)
        figures[f"train_ratio_vs_bare_fit_{architecture}_spread"] = round(max(ratios) - min(ratios), 3)
        if architecture not in ("net_1", "fast"):
            continue
        figures[f"train_images_per_s_{architecture}"] = round(statistics.median(ours))
        figures[f"bare_fit_images_per_s_{architecture}"] = round(statistics.median(bare))
        flops = flops_per_image(architecture)
        figures[f"forward_mflops_per_image_{architecture}"] = round(flops / 1e6, 2)
        # model FLOPs: a training step costs about 3 forward passes (forward, gradient of the input, gradient
        # of the weights); model FLOPs × images/s is the model FLOP utilisation's numerator, not a hardware count
        figures[f"train_gflops_{architecture}"] = round(3 * flops * statistics.median(ours) / 1e9, 1)
        figures[f"train_fraction_of_matmul_{architecture}"] = round(
            figures[f"train_gflops_{architecture}"] / figures["numpy_matmul_gflops"], 3)
    torch_speeds = torch_images_per_second(epochs, size, 3)
    figures["torch_images_per_s_net_1"] = round(statistics.median(torch_speeds)) if torch_speeds else None
    figures["train_vs_torch_net_1"] = (round(figures["train_images_per_s_net_1"] / figures["torch_images_per_s_net_1"], 3)
                                       if torch_speeds else None)
    figures.update(app_path_figures())
    figures.update(app_path_figures(cold=True))
    figures["cache_hit_s"], run = cache_hit_seconds()
    figures["feature_maps_ms"] = feature_maps_ms(run)
    figures["gradcam_ms"] = round(gradcam_ms(run), 1)
    figures["activation_max_s_per_layer_net_1"] = round(activation_max_seconds_per_layer(), 2)
    figures["embedding_pca_s_2000"] = round(embedding_pca_seconds(run), 3)
    figures["timeline_kb_per_epoch_net_1"], figures["timeline_share_of_run_net_1_10_epochs"] = timeline_figures()
    figures["predict_drawing_ms"] = predict_drawing_ms()
    figures["home_import_s"], figures["home_imports_tensorflow"] = home_import_seconds()
    figures["import_images_per_s"], figures["import_seconds_2000"] = import_figures()
    for dataset, architecture, target, most in (("mnist", "fast", 0.97, 15), ("mnist", "net_1", 0.98, 15),
                                                ("fashion_mnist", "fashion_cnn", 0.90, 8 if args.quick else 15)):
        seconds, epoch, source = seconds_to_accuracy(dataset, architecture, target, most, batch_size=64)
        where = "mnist_sample" if dataset == "mnist" else "fashion_full"
        figures[f"seconds_to_{round(target * 100)}_{where}_{architecture}"] = seconds
        figures[f"epochs_to_{round(target * 100)}_{where}_{architecture}"] = epoch
    figures["fashion_source"] = source
    figures["training_process_peak_mb"] = round(training_process_peak_mb())
    peak, now = server_peak_mb(3 if args.quick else 10)
    figures["server_sessions"] = 3 if args.quick else 10
    figures["server_peak_mb"], figures["server_rss_after_mb"] = (round(peak), round(now)) if peak else (None, None)
    for key, value in figures.items():
        print(f"{key:<36} {value:.3f}" if isinstance(value, float) else f"{key:<36} {value}")
    if args.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
