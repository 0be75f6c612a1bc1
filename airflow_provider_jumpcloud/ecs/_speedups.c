/* Optional C accelerators of the ECS mapper, each with the same semantics as its pure-Python twin.
 *
 * prune_dict (airflow_provider_jumpcloud.ecs.prune.py_prune_dict, ~10x faster) removes null, "" and
 * containers that are empty (or become empty) from a parsed JSON document, in place, children first:
 * Elastic's pipeline step 4. fast_timestamp (airflow_provider_jumpcloud.ecs.dates.py_fast_timestamp) is the
 * fast path of the date processor, fast_event_id (airflow_provider_jumpcloud.ecs.fingerprint.py_fast_event_id)
 * the one of the fingerprint, hashed by mmh3, and fast_steps (airflow_provider_jumpcloud.ecs.steps.py_apply_steps)
 * steps 8-56 of the pipeline for the common shapes of events. The Python modules fall back to the pure-Python versions when this
 * extension is not built (no compiler), and tests compare both. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *ZERO;
static PyObject *DIGEST; /* mmh3.mmh3_x64_128_digest; NULL (mmh3 < 5): fast_event_id returns None */

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

/* 0-99 from two ASCII digits, -1 when they are not digits. */
static int two_digits(const unsigned char *s)
{
    if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
        return -1;
    return (s[0] - '0') * 10 + (s[1] - '0');
}

/* 'YYYY-MM-DDTHH:MM:SS' + optional '.' or ',' and 1-9 digits + 'Z' -> 'YYYY-MM-DDTHH:MM:SS.SSSZ' (the
 * fraction truncated to milliseconds); None for anything else (the general parser handles it). */
static PyObject *py_fast_timestamp(PyObject *self, PyObject *arg)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const unsigned char *s;
    Py_ssize_t n, i;
    int century, year, month, day, dim;
    PyObject *out;
    Py_UCS1 *o;
    if (!PyUnicode_CheckExact(arg) || !PyUnicode_IS_ASCII(arg))
        Py_RETURN_NONE;
    n = PyUnicode_GET_LENGTH(arg);
    if (n < 20 || n > 30)
        Py_RETURN_NONE;
    s = PyUnicode_1BYTE_DATA(arg);
    if (s[n - 1] != 'Z' || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':')
        Py_RETURN_NONE;
    century = two_digits(s);
    year = two_digits(s + 2);
    month = two_digits(s + 5);
    day = two_digits(s + 8);
    if (century < 0 || year < 0 || month < 1 || month > 12 || day < 1)
        Py_RETURN_NONE;
    year += century * 100;
    dim = days[month - 1];
    if (month == 2 && year % 4 == 0 && (year % 100 != 0 || year % 400 == 0))
        dim = 29;
    if (year == 0 || day > dim)
        Py_RETURN_NONE;
    i = two_digits(s + 11);
    if (i < 0 || i > 23)
        Py_RETURN_NONE;
    i = two_digits(s + 14);
    if (i < 0 || i > 59)
        Py_RETURN_NONE;
    i = two_digits(s + 17);
    if (i < 0 || i > 59)
        Py_RETURN_NONE;
    if (n > 20) {
        if ((s[19] != '.' && s[19] != ',') || n == 21)
            Py_RETURN_NONE;
        for (i = 20; i < n - 1; i++)
            if (s[i] < '0' || s[i] > '9')
                Py_RETURN_NONE;
    }
    if ((out = PyUnicode_New(24, 127)) == NULL)
        return NULL;
    o = PyUnicode_1BYTE_DATA(out);
    memcpy(o, s, 19);
    o[19] = '.';
    for (i = 0; i < 3; i++)
        o[20 + i] = 21 + i < n ? s[20 + i] : '0';
    o[23] = 'Z';
    return out;
}

/* The _id of string id and timestamp: MurmurHash3 x64 128 of "\0" id "\0" timestamp (UTF-8), h1 then h2
 * big-endian, standard Base64. None when either is not a str (or not UTF-8 encodable, or no DIGEST): the
 * Python code handles it. */
static PyObject *py_fast_event_id(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *id, *ts;
    Py_ssize_t id_len, ts_len, i;
    PyObject *data, *digest, *out;
    unsigned char h[18];
    const unsigned char *d;
    Py_UCS1 *o;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "fast_event_id() takes 2 arguments");
        return NULL;
    }
    if (DIGEST == NULL || !PyUnicode_CheckExact(args[0]) || !PyUnicode_CheckExact(args[1]))
        Py_RETURN_NONE;
    if ((id = PyUnicode_AsUTF8AndSize(args[0], &id_len)) == NULL ||
        (ts = PyUnicode_AsUTF8AndSize(args[1], &ts_len)) == NULL) {
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    if ((data = PyBytes_FromStringAndSize(NULL, id_len + ts_len + 2)) == NULL)
        return NULL;
    o = (Py_UCS1 *)PyBytes_AS_STRING(data);
    o[0] = 0;
    memcpy(o + 1, id, id_len);
    o[id_len + 1] = 0;
    memcpy(o + id_len + 2, ts, ts_len);
    digest = PyObject_CallOneArg(DIGEST, data);
    Py_DECREF(data);
    if (digest == NULL)
        return NULL;
    if (!PyBytes_CheckExact(digest) || PyBytes_GET_SIZE(digest) != 16) {
        Py_DECREF(digest);
        PyErr_SetString(PyExc_ValueError, "unexpected mmh3 digest");
        return NULL;
    }
    d = (const unsigned char *)PyBytes_AS_STRING(digest);
    for (i = 0; i < 8; i++) { /* the digest is h1, h2 little-endian */
        h[i] = d[7 - i];
        h[8 + i] = d[15 - i];
    }
    Py_DECREF(digest);
    h[16] = h[17] = 0;
    if ((out = PyUnicode_New(24, 127)) == NULL)
        return NULL;
    o = PyUnicode_1BYTE_DATA(out);
    for (i = 0; i < 6; i++) { /* 18 bytes -> 24 characters, the last two "==" for the 2 padding bytes */
        unsigned int v = h[3 * i] << 16 | h[3 * i + 1] << 8 | h[3 * i + 2];
        o[4 * i] = b64[v >> 18];
        o[4 * i + 1] = b64[v >> 12 & 63];
        o[4 * i + 2] = b64[v >> 6 & 63];
        o[4 * i + 3] = b64[v & 63];
    }
    o[22] = o[23] = '=';
    return out;
}

/* ---- fast_steps: steps 8-56 of airflow_provider_jumpcloud.ecs.steps.py_apply_steps for the common shapes ----
 *
 * The event qualifies when the mapper has no GeoIP (checked by the caller) and: the timestamp is absent or
 * takes fast_timestamp; client_ip and src_ip are absent or one valid IP string each; there is no
 * jumpcloud_protect_device; "@version" and "version" are not both present; initiated_by.username, when
 * initiated_by is an object, is absent or a string. Then no step fails or reports an error, and the document
 * is built as the Python steps build it: same keys in the same order, the same (shared) values. Otherwise
 * nothing is touched and False is returned: the Python steps take the event. */

enum {F_CLIENT_IP, F_SRC_IP, F_EVENT_TYPE, F_MESSAGE, F_SYSTEM, F_INITIATED_BY, F_USERNAME, F_USERAGENT,
      F_SERVICE, F_PROCESS_NAME, F_SUCCESS, F_DEVICE, F_N};

static PyObject *S_client_ip, *S_src_ip, *S_event_type, *S_message, *S_system, *S_initiated_by, *S_username,
    *S_useragent, *S_service, *S_process_name, *S_success, *S_jumpcloud_protect_device, *S_at_version, *S_version,
    *S_sso_token_success, *S_id, *S_timestamp, *S_hostname, *S_email, *S_name, *S_ip, *S_event, *S_at_timestamp,
    *S_client, *S_source, *S_category, *S_type, *S_host, *S_user, *S_user_agent, *S_device, *S_os, *S_os_name,
    *S_os_full, *S_os_version, *S_full, *S_action, *S_module, *S_process, *S_outcome, *S_related, *S_failure,
    *S_unknown;

static const struct {
    PyObject **name;
    const char *text;
} STRINGS[] = {
    {&S_client_ip, "client_ip"}, {&S_src_ip, "src_ip"}, {&S_event_type, "event_type"}, {&S_message, "message"},
    {&S_system, "system"}, {&S_initiated_by, "initiated_by"}, {&S_username, "username"},
    {&S_useragent, "useragent"}, {&S_service, "service"}, {&S_process_name, "process_name"},
    {&S_success, "success"}, {&S_jumpcloud_protect_device, "jumpcloud_protect_device"},
    {&S_at_version, "@version"}, {&S_version, "version"}, {&S_sso_token_success, "sso_token_success"},
    {&S_id, "id"}, {&S_timestamp, "timestamp"}, {&S_hostname, "hostname"}, {&S_email, "email"},
    {&S_name, "name"}, {&S_ip, "ip"}, {&S_event, "event"}, {&S_at_timestamp, "@timestamp"},
    {&S_client, "client"}, {&S_source, "source"}, {&S_category, "category"}, {&S_type, "type"},
    {&S_host, "host"}, {&S_user, "user"}, {&S_user_agent, "user_agent"}, {&S_device, "device"}, {&S_os, "os"},
    {&S_os_name, "os_name"}, {&S_os_full, "os_full"}, {&S_os_version, "os_version"}, {&S_full, "full"},
    {&S_action, "action"}, {&S_module, "module"}, {&S_process, "process"}, {&S_outcome, "outcome"},
    {&S_related, "related"}, {&S_failure, "failure"}, {&S_unknown, "unknown"},
};

/* The value of d[key] as a new reference, NULL when missing or None (the Python steps' "is None"); -1 on error. */
static int get_field(PyObject *d, PyObject *key, PyObject **out)
{
    PyObject *v = PyDict_GetItemWithError(d, key);
    if (v == NULL && PyErr_Occurred())
        return -1;
    *out = v == Py_None ? NULL : v;
    Py_XINCREF(*out);
    return 0;
}

/* d[key] = value, taking the reference to value (NULL value: the error of building it). */
static int set_steal(PyObject *d, PyObject *key, PyObject *value)
{
    int r;
    if (value == NULL)
        return -1;
    r = PyDict_SetItem(d, key, value);
    Py_DECREF(value);
    return r;
}

/* {key: value} */
static PyObject *dict1(PyObject *key, PyObject *value)
{
    PyObject *d = PyDict_New();
    if (d != NULL && PyDict_SetItem(d, key, value) < 0)
        Py_CLEAR(d);
    return d;
}

/* [value] */
static PyObject *list1(PyObject *value)
{
    PyObject *l = PyList_New(1);
    if (l != NULL) {
        Py_INCREF(value);
        PyList_SET_ITEM(l, 0, value);
    }
    return l;
}

/* d[key] = value when value is not NULL */
static int set_present(PyObject *d, PyObject *key, PyObject *value)
{
    return value == NULL ? 0 : PyDict_SetItem(d, key, value);
}

/* del d[key] when present */
static int del_present(PyObject *d, PyObject *key)
{
    int r = PyDict_Contains(d, key);
    return r <= 0 ? r : PyDict_DelItem(d, key);
}

/* 1 when value is a string parse_ip accepts, 0 when not, -1 on error. */
static int valid_ip(PyObject *parse_ip, PyObject *value)
{
    PyObject *packed;
    if (!PyUnicode_CheckExact(value))
        return 0;
    if ((packed = PyObject_CallOneArg(parse_ip, value)) == NULL)
        return -1;
    Py_DECREF(packed);
    return packed != Py_None;
}

static PyObject *py_fast_steps(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *ev, *doc, *event_id, *timestamp, *categories, *parse_ip;
    PyObject *f[F_N] = {NULL};
    PyObject *system_id = NULL, *system_hostname = NULL, *user_id = NULL, *user_email = NULL, *user_name = NULL;
    PyObject *ua[6] = {NULL}; /* device, name, version, os_name, os_full, os_version */
    PyObject *stamp = NULL, *category = NULL, *event = NULL, *source = NULL, *d = NULL, *o = NULL;
    PyObject *system, *initiated_by, *useragent, *outcome, *result = NULL;
    int remove, r, i;
    if (nargs != 7) {
        PyErr_SetString(PyExc_TypeError, "fast_steps() takes 7 arguments");
        return NULL;
    }
    ev = args[0], doc = args[1], event_id = args[2], timestamp = args[3];
    categories = args[5], parse_ip = args[6];
    if (!PyDict_CheckExact(ev) || !PyDict_CheckExact(doc) || !PyDict_CheckExact(categories)) {
        PyErr_SetString(PyExc_TypeError, "fast_steps() takes an event, a document and a category dict");
        return NULL;
    }
    if ((remove = PyObject_IsTrue(args[4])) < 0)
        return NULL;
    if (event_id == Py_None)
        event_id = NULL;
    {
        PyObject *const keys[F_N] = {S_client_ip, S_src_ip, S_event_type, S_message, S_system, S_initiated_by,
                                     S_username, S_useragent, S_service, S_process_name, S_success,
                                     S_jumpcloud_protect_device};
        for (i = 0; i < F_N; i++)
            if (get_field(ev, keys[i], &f[i]) < 0)
                goto error;
    }
    system = f[F_SYSTEM] != NULL && PyDict_CheckExact(f[F_SYSTEM]) ? f[F_SYSTEM] : NULL;
    initiated_by = f[F_INITIATED_BY] != NULL && PyDict_CheckExact(f[F_INITIATED_BY]) ? f[F_INITIATED_BY] : NULL;
    useragent = f[F_USERAGENT] != NULL && PyDict_CheckExact(f[F_USERAGENT]) ? f[F_USERAGENT] : NULL;

    /* Does the event qualify? Nothing is changed until it does. */
    result = Py_False;
    if (f[F_DEVICE] != NULL)
        goto done;
    if (timestamp != Py_None) {
        if ((stamp = py_fast_timestamp(NULL, timestamp)) == NULL)
            goto error;
        if (stamp == Py_None)
            goto done;
    }
    for (i = F_CLIENT_IP; i <= F_SRC_IP; i++) {
        if (f[i] != NULL && (r = valid_ip(parse_ip, f[i])) <= 0) {
            if (r < 0)
                goto error;
            goto done;
        }
    }
    if ((r = PyDict_Contains(ev, S_at_version)) == 1)
        r = PyDict_Contains(ev, S_version); /* the rename would fail */
    if (r < 0)
        goto error;
    if (r == 1)
        goto done;
    if (initiated_by != NULL) {
        if (get_field(initiated_by, S_id, &user_id) < 0 || get_field(initiated_by, S_email, &user_email) < 0 ||
            get_field(initiated_by, S_username, &user_name) < 0)
            goto error;
        if (user_name != NULL && !PyUnicode_CheckExact(user_name))
            goto done;
    }
    if (f[F_EVENT_TYPE] != NULL && PyUnicode_CheckExact(f[F_EVENT_TYPE])) {
        category = PyDict_GetItemWithError(categories, f[F_EVENT_TYPE]);
        if (category == NULL && PyErr_Occurred())
            goto error;
        if (category != NULL && (!PyTuple_CheckExact(category) || PyTuple_GET_SIZE(category) != 2))
            goto done;
    }
    result = Py_True;

    /* steps 8-16: @timestamp, client.ip, source.ip, event.category / type / id, message */
    if ((event = PyDict_New()) == NULL || PyDict_SetItem(doc, S_event, event) < 0)
        goto error;
    if (stamp != NULL && PyDict_SetItem(doc, S_at_timestamp, stamp) < 0)
        goto error;
    if (f[F_CLIENT_IP] != NULL && set_steal(doc, S_client, dict1(S_ip, f[F_CLIENT_IP])) < 0)
        goto error;
    if (f[F_SRC_IP] != NULL) {
        if ((source = dict1(S_ip, f[F_SRC_IP])) == NULL || PyDict_SetItem(doc, S_source, source) < 0)
            goto error;
    }
    if (category != NULL) {
        if (set_steal(event, S_category, list1(PyTuple_GET_ITEM(category, 0))) < 0 ||
            set_steal(event, S_type, list1(PyTuple_GET_ITEM(category, 1))) < 0)
            goto error;
    }
    if (set_present(event, S_id, event_id) < 0 || set_present(doc, S_message, f[F_MESSAGE]) < 0)
        goto error;
    /* step 17: rename @version to version */
    if ((d = PyDict_GetItemWithError(ev, S_at_version)) != NULL) {
        Py_INCREF(d);
        if (PyDict_DelItem(ev, S_at_version) < 0 || PyDict_SetItem(ev, S_version, d) < 0)
            goto error;
        Py_CLEAR(d);
    } else if (PyErr_Occurred())
        goto error;

    /* steps 18-32: host, source.user, user.name, user_agent, event.action / module, process.name */
    if (system != NULL) {
        if (get_field(system, S_id, &system_id) < 0 || get_field(system, S_hostname, &system_hostname) < 0)
            goto error;
        if (system_id != NULL || system_hostname != NULL) {
            if ((d = PyDict_New()) == NULL || set_present(d, S_id, system_id) < 0 ||
                set_present(d, S_hostname, system_hostname) < 0 || PyDict_SetItem(doc, S_host, d) < 0)
                goto error;
            Py_CLEAR(d);
        }
    }
    if (user_id != NULL || user_email != NULL || user_name != NULL) {
        if ((d = PyDict_New()) == NULL || set_present(d, S_id, user_id) < 0 || set_present(d, S_email, user_email) < 0 ||
            set_present(d, S_name, user_name) < 0)
            goto error;
        if ((source == NULL ? set_steal(doc, S_source, dict1(S_user, d)) : PyDict_SetItem(source, S_user, d)) < 0)
            goto error;
        Py_CLEAR(d);
    }
    if (f[F_USERNAME] != NULL && set_steal(doc, S_user, dict1(S_name, f[F_USERNAME])) < 0)
        goto error;
    if (useragent != NULL) {
        PyObject *const keys[6] = {S_device, S_name, S_version, S_os_name, S_os_full, S_os_version};
        for (i = 0; i < 6; i++)
            if (get_field(useragent, keys[i], &ua[i]) < 0)
                goto error;
        if ((d = PyDict_New()) == NULL)
            goto error;
        if ((ua[0] != NULL && set_steal(d, S_device, dict1(S_name, ua[0])) < 0) || set_present(d, S_name, ua[1]) < 0 ||
            set_present(d, S_version, ua[2]) < 0)
            goto error;
        if (ua[3] != NULL || ua[4] != NULL || ua[5] != NULL) {
            if ((o = PyDict_New()) == NULL || set_present(o, S_name, ua[3]) < 0 || set_present(o, S_full, ua[4]) < 0 ||
                set_present(o, S_version, ua[5]) < 0 || PyDict_SetItem(d, S_os, o) < 0)
                goto error;
            Py_CLEAR(o);
        }
        if (PyDict_GET_SIZE(d) > 0 && PyDict_SetItem(doc, S_user_agent, d) < 0)
            goto error;
        Py_CLEAR(d);
    }
    if (set_present(event, S_action, f[F_EVENT_TYPE]) < 0 || set_present(event, S_module, f[F_SERVICE]) < 0)
        goto error;
    if (f[F_PROCESS_NAME] != NULL && set_steal(doc, S_process, dict1(S_name, f[F_PROCESS_NAME])) < 0)
        goto error;

    /* steps 33-37: event.outcome; success, when a boolean, wins over sso_token_success */
    outcome = f[F_SUCCESS];
    if (outcome != Py_True && outcome != Py_False) {
        outcome = PyDict_GetItemWithError(ev, S_sso_token_success);
        if (outcome == NULL && PyErr_Occurred())
            goto error;
    }
    outcome = outcome == Py_True ? S_success : outcome == Py_False ? S_failure : S_unknown;
    if (PyDict_SetItem(event, S_outcome, outcome) < 0)
        goto error;

    /* steps 46-54: related.ip from source.ip, related.user from source.user.name */
    if (f[F_SRC_IP] != NULL || user_name != NULL) {
        if ((d = PyDict_New()) == NULL)
            goto error;
        if ((f[F_SRC_IP] != NULL && set_steal(d, S_ip, list1(f[F_SRC_IP])) < 0) ||
            (user_name != NULL && set_steal(d, S_user, list1(user_name)) < 0) || PyDict_SetItem(doc, S_related, d) < 0)
            goto error;
        Py_CLEAR(d);
    }

    /* step 56: remove the copied fields (all present ones: the event qualified) */
    if (remove) {
        if (del_present(ev, S_version) < 0 || (event_id != NULL && PyDict_DelItem(ev, S_id) < 0) ||
            (timestamp != Py_None && PyDict_DelItem(ev, S_timestamp) < 0))
            goto error;
        {
            const int fields[] = {F_MESSAGE, F_USERNAME, F_USERAGENT, F_EVENT_TYPE, F_SERVICE, F_PROCESS_NAME,
                                  F_CLIENT_IP, F_SRC_IP};
            PyObject *const keys[] = {S_message, S_username, S_useragent, S_event_type, S_service, S_process_name,
                                      S_client_ip, S_src_ip};
            for (i = 0; i < 8; i++)
                if (f[fields[i]] != NULL && PyDict_DelItem(ev, keys[i]) < 0)
                    goto error;
        }
        if ((system_id != NULL && PyDict_DelItem(system, S_id) < 0) ||
            (system_hostname != NULL && PyDict_DelItem(system, S_hostname) < 0) ||
            (user_id != NULL && PyDict_DelItem(initiated_by, S_id) < 0) ||
            (user_email != NULL && PyDict_DelItem(initiated_by, S_email) < 0) ||
            (user_name != NULL && PyDict_DelItem(initiated_by, S_username) < 0))
            goto error;
    }
done:
    Py_INCREF(result);
    goto cleanup;
error:
    result = NULL;
cleanup:
    for (i = 0; i < F_N; i++)
        Py_XDECREF(f[i]);
    for (i = 0; i < 6; i++)
        Py_XDECREF(ua[i]);
    Py_XDECREF(system_id);
    Py_XDECREF(system_hostname);
    Py_XDECREF(user_id);
    Py_XDECREF(user_email);
    Py_XDECREF(user_name);
    Py_XDECREF(stamp);
    Py_XDECREF(event);
    Py_XDECREF(source);
    Py_XDECREF(d);
    Py_XDECREF(o);
    return result;
}

static PyMethodDef methods[] = {
    {"prune_dict", py_prune_dict, METH_O, "Prune a dict in place; return True when it ends up empty."},
    {"fast_timestamp", py_fast_timestamp, METH_O,
     "Render a 'YYYY-MM-DDTHH:MM:SS[.fraction]Z' timestamp as @timestamp, or None for any other value."},
    {"fast_event_id", (PyCFunction)(void (*)(void))py_fast_event_id, METH_FASTCALL,
     "The _id of a string id and timestamp, or None when either is not a str."},
    {"fast_steps", (PyCFunction)(void (*)(void))py_fast_steps, METH_FASTCALL,
     "fast_steps(event, doc, id, timestamp, remove_duplicates, categories, parse_ip): steps 8-56 for the "
     "common shapes; False (nothing changed) for the others."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_speedups", "C accelerators of the ECS mapper.", -1,
                                    methods};

PyMODINIT_FUNC PyInit__speedups(void)
{
    PyObject *mmh3;
    size_t i;
    ZERO = PyLong_FromLong(0);
    if (ZERO == NULL)
        return NULL;
    for (i = 0; i < sizeof(STRINGS) / sizeof(STRINGS[0]); i++)
        if ((*STRINGS[i].name = PyUnicode_InternFromString(STRINGS[i].text)) == NULL)
            return NULL;
    if ((mmh3 = PyImport_ImportModule("mmh3")) != NULL) {
        DIGEST = PyObject_GetAttrString(mmh3, "mmh3_x64_128_digest");
        Py_DECREF(mmh3);
    }
    if (DIGEST == NULL)
        PyErr_Clear();
    return PyModule_Create(&module);
}
