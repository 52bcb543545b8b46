/* The pixel write of Hide-and-Seek in C: the hidden cells of one image set to the fill.
 *
 * benchmark/hide_and_seek.py calls fill_cells() when this module is built, and writes the
 * same bytes with numpy otherwise (the tests compare the two on every layout). It only
 * handles layouts where each pixel row of a channel plane is one run of memory, forwards or
 * backwards (a C-contiguous image, a flip, a crop); the caller checks that and gives every
 * position in bytes. Each row of cells becomes a list of runs of hidden pixels (neighbouring
 * hidden cells merge into one run), and every pixel row of that cell row gets one memcpy per
 * run from a line of fill pixels. All writes are checked against the buffer's size first.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#define N_LAYOUT 7

/* lo/hi byte contributions of an axis of n items spaced `stride` bytes apart. */
static int
axis_span(Py_ssize_t n, Py_ssize_t stride, Py_ssize_t *lo, Py_ssize_t *hi)
{
    Py_ssize_t reach;
    if (__builtin_mul_overflow(n - 1, stride, &reach)) {
        return -1;
    }
    if (reach < 0) {
        if (__builtin_add_overflow(*lo, reach, lo)) {
            return -1;
        }
    }
    else if (__builtin_add_overflow(*hi, reach, hi)) {
        return -1;
    }
    return 0;
}

static int
get_ssize(PyObject *obj, Py_ssize_t *out)
{
    *out = PyLong_AsSsize_t(obj);
    return (*out == -1 && PyErr_Occurred()) ? -1 : 0;
}

PyDoc_STRVAR(fill_cells_doc,
"fill_cells(buffer, offset, cells, size, layout, pattern)\n--\n\n"
"Write the fill into the hidden cells of one image.\n\n"
"buffer: the writable, C-contiguous memory holding the image.\n"
"offset: bytes from the buffer's start to the lowest byte of pixel (0, 0) of plane 0.\n"
"cells: C-contiguous bool (rows, cols) = (ceil(height / size), ceil(width / size)).\n"
"size: cell side in pixels (> 0).\n"
"layout: (planes, plane_stride, height, width, row_stride, pixel_stride, pixel_bytes),\n"
"    strides in bytes (signed); |pixel_stride| must equal pixel_bytes.\n"
"pattern: planes * pixel_bytes bytes, one fill pixel per plane in memory order.\n");

static PyObject *
fill_cells(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t offset, size, v[N_LAYOUT];
    if (nargs != 6) {
        PyErr_SetString(PyExc_TypeError,
                        "fill_cells(buffer, offset, cells, size, layout, pattern) takes 6 "
                        "arguments");
        return NULL;
    }
    if (get_ssize(args[1], &offset) || get_ssize(args[3], &size)) {
        return NULL;
    }
    if (!PyTuple_Check(args[4]) || PyTuple_GET_SIZE(args[4]) != N_LAYOUT) {
        PyErr_SetString(PyExc_ValueError, "layout must be a tuple of 7 ints");
        return NULL;
    }
    for (int i = 0; i < N_LAYOUT; i++) {
        if (get_ssize(PyTuple_GET_ITEM(args[4], i), &v[i])) {
            return NULL;
        }
    }
    const Py_ssize_t planes = v[0], plane_stride = v[1], height = v[2], width = v[3];
    const Py_ssize_t row_stride = v[4], pixel_stride = v[5], pixel_bytes = v[6];
    if (planes < 1 || height < 1 || width < 1 || size < 1 || pixel_bytes < 1
            || (pixel_stride != pixel_bytes && pixel_stride != -pixel_bytes)
            || width > PY_SSIZE_T_MAX / pixel_bytes
            || planes > PY_SSIZE_T_MAX / (width * pixel_bytes)) {
        PyErr_SetString(PyExc_ValueError,
                        "fill_cells: sizes must be positive and pixels one run of memory "
                        "(|pixel_stride| == pixel_bytes)");
        return NULL;
    }
    const Py_ssize_t rows = (height - 1) / size + 1, cols = (width - 1) / size + 1;
    const Py_ssize_t line_bytes = width * pixel_bytes;

    Py_buffer img, cells, pattern;
    if (PyObject_GetBuffer(args[0], &img, PyBUF_WRITABLE | PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    if (PyObject_GetBuffer(args[2], &cells, PyBUF_SIMPLE) < 0) {
        PyBuffer_Release(&img);
        return NULL;
    }
    if (PyObject_GetBuffer(args[5], &pattern, PyBUF_SIMPLE) < 0) {
        PyBuffer_Release(&cells);
        PyBuffer_Release(&img);
        return NULL;
    }
    PyObject *result = NULL;
    char *lines = NULL;
    Py_ssize_t *runs = NULL;
    Py_ssize_t lo = offset, hi = offset, n_cells;
    if (__builtin_mul_overflow(rows, cols, &n_cells)) {
        PyErr_SetString(PyExc_ValueError, "fill_cells: the image has too many cells");
        goto done;
    }
    if (cells.len != n_cells || pattern.len != planes * pixel_bytes) {
        PyErr_Format(PyExc_ValueError,
                     "fill_cells: cells need %zd bytes (got %zd), pattern %zd (got %zd)",
                     n_cells, cells.len, planes * pixel_bytes, pattern.len);
        goto done;
    }
    if (axis_span(planes, plane_stride, &lo, &hi) || axis_span(height, row_stride, &lo, &hi)
            || axis_span(width, pixel_stride, &lo, &hi)
            || __builtin_add_overflow(hi, pixel_bytes, &hi) || lo < 0 || hi > img.len) {
        PyErr_SetString(PyExc_ValueError, "fill_cells: the layout reaches outside the buffer");
        goto done;
    }
    lines = PyMem_Malloc(planes * line_bytes);
    runs = PyMem_Malloc(2 * cols * sizeof(Py_ssize_t));
    if (lines == NULL || runs == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t p = 0; p < planes; p++) {  /* a line of fill pixels per plane */
        char *line = lines + p * line_bytes;
        memcpy(line, (const char *)pattern.buf + p * pixel_bytes, pixel_bytes);
        for (Py_ssize_t done_bytes = pixel_bytes; done_bytes < line_bytes; done_bytes *= 2) {
            Py_ssize_t n = done_bytes < line_bytes - done_bytes ? done_bytes
                                                                : line_bytes - done_bytes;
            memcpy(line + done_bytes, line, n);
        }
    }
    char *const base = (char *)img.buf + offset;
    const unsigned char *mask = cells.buf;
    for (Py_ssize_t r = 0; r < rows; r++, mask += cols) {
        Py_ssize_t n_runs = 0;
        for (Py_ssize_t c = 0; c < cols;) {  /* runs of hidden cells in this cell row */
            if (!mask[c]) {
                c++;
                continue;
            }
            const Py_ssize_t first = c;
            while (c < cols && mask[c]) {
                c++;
            }
            const Py_ssize_t x0 = first * size, x1 = c * size < width ? c * size : width;
            runs[2 * n_runs] = pixel_stride > 0 ? x0 * pixel_stride : (x1 - 1) * pixel_stride;
            runs[2 * n_runs + 1] = (x1 - x0) * pixel_bytes;
            n_runs++;
        }
        if (n_runs == 0) {
            continue;
        }
        const Py_ssize_t y0 = r * size, y1 = y0 + size < height ? y0 + size : height;
        for (Py_ssize_t p = 0; p < planes; p++) {
            const char *line = lines + p * line_bytes;
            char *row = base + p * plane_stride + y0 * row_stride;
            for (Py_ssize_t y = y0; y < y1; y++, row += row_stride) {
                for (Py_ssize_t k = 0; k < n_runs; k++) {
                    memcpy(row + runs[2 * k], line, runs[2 * k + 1]);
                }
            }
        }
    }
    result = Py_NewRef(Py_None);
done:
    PyMem_Free(runs);
    PyMem_Free(lines);
    PyBuffer_Release(&pattern);
    PyBuffer_Release(&cells);
    PyBuffer_Release(&img);
    return result;
}

static PyMethodDef methods[] = {
    {"fill_cells", (PyCFunction)(void (*)(void))fill_cells, METH_FASTCALL, fill_cells_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_hasfill",
    "The pixel write of Hide-and-Seek in C (see benchmark.hide_and_seek).", -1, methods,
};

PyMODINIT_FUNC
PyInit__hasfill(void)
{
    return PyModule_Create(&module);
}
