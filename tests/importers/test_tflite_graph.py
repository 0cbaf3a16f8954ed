"""TFLite sparse tensors -> dense, by the format's definition (fabricated, no file needed)."""

from __future__ import annotations

import numpy as np
import scipy.sparse

from service.importers.tflite_graph import Level, densify


def test_csr_matrix_densifies_like_scipy() -> None:
    rng = np.random.default_rng(0)
    dense = rng.random((5, 7)) * (rng.random((5, 7)) < 0.4)
    csr = scipy.sparse.csr_matrix(dense)
    levels = [Level(size=5), Level(segments=csr.indptr.astype(np.int64),
                                   indices=csr.indices.astype(np.int64))]
    out = densify(csr.data, (5, 7), [0, 1], [], levels)
    np.testing.assert_array_equal(out, dense)


def test_conv_weight_with_sparse_last_dim() -> None:
    # the detector's layout: (O, 1, 1, I) with dims 0-2 DENSE and the input channels CSR
    rng = np.random.default_rng(1)
    dense = rng.random((4, 1, 1, 6)) * (rng.random((4, 1, 1, 6)) < 0.5)
    rows = dense.reshape(4, 6)
    csr = scipy.sparse.csr_matrix(rows)
    levels = [Level(size=4), Level(size=1), Level(size=1),
              Level(segments=csr.indptr.astype(np.int64), indices=csr.indices.astype(np.int64))]
    out = densify(csr.data, (4, 1, 1, 6), [0, 1, 2, 3], [], levels)
    np.testing.assert_array_equal(out, dense)


def test_block_sparse_matrix() -> None:
    # 4x4 in 2x2 blocks (block_map [0, 1]): block rows DENSE, block columns CSR, blocks DENSE
    dense = np.zeros((4, 4))
    dense[0:2, 2:4] = [[1, 2], [3, 4]]
    dense[2:4, 0:2] = [[5, 6], [7, 8]]
    levels = [Level(size=2), Level(segments=np.array([0, 1, 2]), indices=np.array([1, 0])),
              Level(size=2), Level(size=2)]
    values = np.array([1, 2, 3, 4, 5, 6, 7, 8], dtype=np.float64)
    out = densify(values, (4, 4), [0, 1, 2, 3], [0, 1], levels)
    np.testing.assert_array_equal(out, dense)


def test_traversal_order_swaps_dimensions() -> None:
    # column-major storage: level 0 is dimension 1 (columns), level 1 dimension 0 (rows)
    dense = np.array([[1.0, 0.0, 2.0], [0.0, 3.0, 4.0]])
    csc = scipy.sparse.csc_matrix(dense)
    levels = [Level(size=3), Level(segments=csc.indptr.astype(np.int64),
                                   indices=csc.indices.astype(np.int64))]
    out = densify(csc.data, (2, 3), [1, 0], [], levels)
    np.testing.assert_array_equal(out, dense)
