/* Optional C version of airflow_provider_jumpcloud.ecs.prune.prune_dict (same semantics, ~10x faster).
 *
 * Removes null, "" and containers that are empty (or become empty) from a parsed JSON document, in place,
 * children first: Elastic's pipeline step 4. prune.py falls back to the pure-Python walk when this
 * extension is not built (no compiler), and tests compare both. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *ZERO;

static int prune_dict(PyObject *d);
static int prune_list(PyObject *l);

/* 1: remove the value (after pruning its children), 0: keep it, -1: error. */
static int dead_value(PyObject *v)
{
    PyTypeObject *t = Py_TYPE(v);
    if (t == &PyUnicode_Type)
        return PyUnicode_GET_LENGTH(v) == 0;
    if (t == &PyDict_Type)
        return PyDict_GET_SIZE(v) == 0 ? 1 : prune_dict(v);
    if (t == &PyList_Type)
        return PyList_GET_SIZE(v) == 0 ? 1 : prune_list(v);
    return v == Py_None;
}

static int prune_dict(PyObject *d)
{
    PyObject *key, *value, *dead = NULL;
    Py_ssize_t pos = 0, i, n;
    if (Py_EnterRecursiveCall(" while pruning a document"))
        return -1;
    while (PyDict_Next(d, &pos, &key, &value)) {
        int r = dead_value(value);
        if (r < 0)
            goto error;
        if (r) {
            if (dead == NULL && (dead = PyList_New(0)) == NULL)
                goto error;
            if (PyList_Append(dead, key) < 0)
                goto error;
        }
    }
    Py_LeaveRecursiveCall();
    if (dead == NULL)
        return 0;
    n = PyList_GET_SIZE(dead);
    for (i = 0; i < n; i++) {
        if (PyDict_DelItem(d, PyList_GET_ITEM(dead, i)) < 0) {
            Py_DECREF(dead);
            return -1;
        }
    }
    Py_DECREF(dead);
    return PyDict_GET_SIZE(d) == 0;
error:
    Py_LeaveRecursiveCall();
    Py_XDECREF(dead);
    return -1;
}

static int prune_list(PyObject *l)
{
    Py_ssize_t n = PyList_GET_SIZE(l), i;
    int dirty = 0;
    PyObject *kept;
    if (Py_EnterRecursiveCall(" while pruning a document"))
        return -1;
    for (i = 0; i < n; i++) {
        int r = dead_value(PyList_GET_ITEM(l, i));
        if (r < 0) {
            Py_LeaveRecursiveCall();
            return -1;
        }
        dirty |= r;
    }
    Py_LeaveRecursiveCall();
    if (!dirty)
        return 0;
    /* Children are pruned: keep the values that are truthy or equal to 0 (0, 0.0, false). */
    if ((kept = PyList_New(0)) == NULL)
        return -1;
    n = PyList_GET_SIZE(l);
    for (i = 0; i < n; i++) {
        PyObject *v = PyList_GET_ITEM(l, i);
        int keep = PyObject_IsTrue(v);
        if (keep == 0)
            keep = PyObject_RichCompareBool(v, ZERO, Py_EQ);
        if (keep < 0 || (keep && PyList_Append(kept, v) < 0)) {
            Py_DECREF(kept);
            return -1;
        }
    }
    if (PyList_SetSlice(l, 0, PyList_GET_SIZE(l), kept) < 0) {
        Py_DECREF(kept);
        return -1;
    }
    Py_DECREF(kept);
    return PyList_GET_SIZE(l) == 0;
}

static PyObject *py_prune_dict(PyObject *self, PyObject *arg)
{
    int r;
    if (!PyDict_CheckExact(arg)) {
        PyErr_SetString(PyExc_TypeError, "prune_dict() takes a dict");
        return NULL;
    }
    r = prune_dict(arg);
    if (r < 0)
        return NULL;
    return PyBool_FromLong(r);
}

static PyMethodDef methods[] = {
    {"prune_dict", py_prune_dict, METH_O, "Prune a dict in place; return True when it ends up empty."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_speedups", "C accelerators of the ECS mapper.", -1,
                                    methods};

PyMODINIT_FUNC PyInit__speedups(void)
{
    ZERO = PyLong_FromLong(0);
    if (ZERO == NULL)
        return NULL;
    return PyModule_Create(&module);
}
