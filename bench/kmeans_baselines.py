"""k-means baselines for bench/kmeans.ts: faiss (spherical) and scikit-learn on the same float32 data.

Reads bench/out/kmeans-data.f32 ([n, d] unit rows), runs each library for a fixed number of iterations
and prints one JSON line per library: seconds and the objective (mean cosine of each row to the
normalised centroid it is assigned to), so the TypeScript bench can print ratios.
"""
import json
import sys
import time

import numpy as np

path, n, d, k, iters = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
x = np.fromfile(path, dtype=np.float32).reshape(n, d)


def objective(centroids, labels):
    c = centroids / np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-12)
    return float(np.mean(np.sum(x * c[labels], axis=1)))


try:
    import faiss

    t = time.perf_counter()
    km = faiss.Kmeans(d, k, niter=iters, spherical=True, seed=1, verbose=False)
    km.train(x)
    _, labels = km.index.search(x, 1)
    secs = time.perf_counter() - t
    print(json.dumps({"name": "faiss", "version": faiss.__version__, "seconds": secs,
                      "objective": objective(km.centroids, labels[:, 0])}), flush=True)
except ImportError as e:
    print(json.dumps({"name": "faiss", "error": str(e)}), flush=True)

try:
    import sklearn
    from sklearn.cluster import KMeans

    t = time.perf_counter()
    km = KMeans(n_clusters=k, n_init=1, max_iter=iters, tol=0.0, algorithm="lloyd", random_state=1).fit(x)
    secs = time.perf_counter() - t
    print(json.dumps({"name": "scikit-learn", "version": sklearn.__version__, "seconds": secs,
                      "objective": objective(km.cluster_centers_, km.labels_)}), flush=True)
except ImportError as e:
    print(json.dumps({"name": "scikit-learn", "error": str(e)}), flush=True)
