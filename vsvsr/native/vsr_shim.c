/*
 * vsr_shim.c: the native half of core.vsr.
 *
 * VapourSynth only builds core namespaces from native plugins, so this small plugin registers
 * vsr.SRGAN and forwards each call into Python (vsvsr.vapoursynth_plugin), where the real work
 * happens. It never links libpython: every Python function is looked up with dlsym when a call
 * arrives, so the plugin loads in any host and, where no Python runs, fails the call with a
 * clear message instead of crashing.
 *
 * Nodes cross the C/Python boundary through the public API only. The Cython module offers no
 * way to wrap a raw VSNode*, so SRGAN parks its input node in a small registry under an id and
 * calls Python with that id; Python fetches it with core.vsr.ShimTake(id=...) (the core wraps
 * the returned node as a VideoNode for us) and hands its result back with
 * core.vsr.ShimGive(clip=..., id=...). ShimTake and ShimGive are internal to that handshake.
 */
#define _GNU_SOURCE /* RTLD_DEFAULT */
#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "VapourSynth4.h"

#define IMPL_MODULE "vsvsr.vapoursynth_plugin"
#define IMPL_ENTRY "_invoke_from_shim"
/* Version of the C<->Python handshake above, not of vsvsr: bump when either side changes it. */
#define SHIM_VERSION VS_MAKE_VERSION(1, 0)

/* SRGAN's optional arguments, in signature order. Each one the user set is forwarded to Python
   as an int or a str; unset ones are left out so Python's defaults apply. One list feeds both
   the registered signature and the forwarding, so the two cannot drift apart. */
#define SRGAN_OPTIONS(X) \
    X(scale, int) X(model, data) X(weights, data) X(window, int) X(tile, int) X(overlap, int) \
    X(device, data) X(precision, data) X(num_streams, int) X(threads, int) X(mode, data) X(backend, data) \
    X(batch, int)

#define AS_SIGNATURE(name, type) #name ":" #type ":opt;"
static const char srgan_signature[] = "clip:vnode;" SRGAN_OPTIONS(AS_SIGNATURE);

#define AS_ENTRY(name, type) {#name, sizeof #type == sizeof "int"},
static const struct { const char *name; int is_int; } srgan_options[] = {SRGAN_OPTIONS(AS_ENTRY)};
#define NUM_OPTIONS (sizeof srgan_options / sizeof srgan_options[0])

/* ---- Python, resolved at call time -------------------------------------------------------- */

typedef struct _object PyObject; /* opaque: only pointers cross this file */
typedef int PyGILState_STATE;     /* an enum in Python.h, int-sized */

typedef struct {
    int (*IsInitialized)(void);
    int (*IsFinalizing)(void); /* optional: Py_IsFinalizing (3.13+) or _Py_IsFinalizing */
    PyGILState_STATE (*GILState_Ensure)(void);
    void (*GILState_Release)(PyGILState_STATE);
    PyObject *(*Import_ImportModule)(const char *);
    PyObject *(*Object_GetAttrString)(PyObject *, const char *);
    PyObject *(*Object_CallFunctionObjArgs)(PyObject *, ...);
    PyObject *(*Dict_New)(void);
    int (*Dict_SetItemString)(PyObject *, const char *, PyObject *);
    PyObject *(*Long_FromLongLong)(long long);
    PyObject *(*Unicode_FromStringAndSize)(const char *, ssize_t);
    PyObject *(*Object_Str)(PyObject *);
    const char *(*Unicode_AsUTF8)(PyObject *);
    PyObject *(*Err_GetRaisedException)(void); /* optional: 3.12+ */
    void (*Err_Fetch)(PyObject **, PyObject **, PyObject **);
    void (*Err_NormalizeException)(PyObject **, PyObject **, PyObject **);
    void (*Err_Clear)(void);
    void (*DecRef)(PyObject *); /* Py_DecRef: the function form of Py_DECREF, for exactly this */
} PyApi;

/* Fills api from whatever Python the host process has loaded (the python executable, or the
   libpython that vsscript loads globally so extension modules resolve). Returns 0 with a
   message naming the fix when there is none, or none that is running. */
static int python_load(PyApi *api, char *err, size_t errlen) {
    memset(api, 0, sizeof *api);
    *(void **)&api->IsInitialized = dlsym(RTLD_DEFAULT, "Py_IsInitialized");
    if (!api->IsInitialized || !api->IsInitialized()) {
        snprintf(err, errlen, "vsr.SRGAN: no Python is running in this process, and vsr.SRGAN is "
                 "implemented in Python (vsvsr); call it from a VapourSynth Python script "
                 "(vspipe, python, vsedit) with vsvsr installed in that Python");
        return 0;
    }
    *(void **)&api->IsFinalizing = dlsym(RTLD_DEFAULT, "Py_IsFinalizing");
    if (!api->IsFinalizing)
        *(void **)&api->IsFinalizing = dlsym(RTLD_DEFAULT, "_Py_IsFinalizing");
    *(void **)&api->Err_GetRaisedException = dlsym(RTLD_DEFAULT, "PyErr_GetRaisedException");

    static const struct { const char *symbol; size_t offset; } required[] = {
#define REQUIRED(field, symbol) {symbol, offsetof(PyApi, field)}
        REQUIRED(GILState_Ensure, "PyGILState_Ensure"),
        REQUIRED(GILState_Release, "PyGILState_Release"),
        REQUIRED(Import_ImportModule, "PyImport_ImportModule"),
        REQUIRED(Object_GetAttrString, "PyObject_GetAttrString"),
        REQUIRED(Object_CallFunctionObjArgs, "PyObject_CallFunctionObjArgs"),
        REQUIRED(Dict_New, "PyDict_New"),
        REQUIRED(Dict_SetItemString, "PyDict_SetItemString"),
        REQUIRED(Long_FromLongLong, "PyLong_FromLongLong"),
        REQUIRED(Unicode_FromStringAndSize, "PyUnicode_FromStringAndSize"),
        REQUIRED(Object_Str, "PyObject_Str"),
        REQUIRED(Unicode_AsUTF8, "PyUnicode_AsUTF8"),
        REQUIRED(Err_Fetch, "PyErr_Fetch"),
        REQUIRED(Err_NormalizeException, "PyErr_NormalizeException"),
        REQUIRED(Err_Clear, "PyErr_Clear"),
        REQUIRED(DecRef, "Py_DecRef"),
#undef REQUIRED
    };
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
        void *fn = dlsym(RTLD_DEFAULT, required[i].symbol);
        if (!fn) {
            snprintf(err, errlen, "vsr.SRGAN: the Python in this process has no %s; vsvsr needs "
                     "CPython 3.12 or newer", required[i].symbol);
            return 0;
        }
        memcpy((char *)api + required[i].offset, &fn, sizeof fn);
    }
    /* Taking the GIL while the interpreter shuts down would hang this thread. */
    if (api->IsFinalizing && api->IsFinalizing()) {
        snprintf(err, errlen, "vsr.SRGAN: Python is shutting down; create filters before the "
                 "script ends");
        return 0;
    }
    return 1;
}

static void py_release(const PyApi *py, PyObject *obj) {
    if (obj)
        py->DecRef(obj);
}

/* Writes fmt % str(current exception) into err and clears the exception: the user gets the
   message, never a traceback dump. */
static void python_error(const PyApi *py, const char *fmt, char *err, size_t errlen) {
    PyObject *exc = NULL, *type = NULL, *tb = NULL;
    if (py->Err_GetRaisedException) {
        exc = py->Err_GetRaisedException();
    } else {
        py->Err_Fetch(&type, &exc, &tb);
        py->Err_NormalizeException(&type, &exc, &tb);
    }
    PyObject *text = exc ? py->Object_Str(exc) : NULL;
    const char *message = text ? py->Unicode_AsUTF8(text) : NULL;
    snprintf(err, errlen, fmt, message ? message : "unknown Python error");
    py_release(py, text);
    py_release(py, exc);
    py_release(py, type);
    py_release(py, tb);
    py->Err_Clear(); /* str() itself may have failed */
}

/* ---- the registry of parked nodes --------------------------------------------------------- */

typedef struct Parcel {
    int64_t id;
    VSCore *core; /* nodes must not wander to another core */
    VSNode *in;   /* owned here until ShimTake hands it to Python */
    VSNode *out;  /* owned here once ShimGive stores Python's result */
    struct Parcel *next;
} Parcel;

/* Filters may be created from several threads at once (Python threads, FrameEval callbacks). */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static Parcel *registry;
static int64_t next_id = 1;

static Parcel *parcel_open(VSCore *core, VSNode *in) {
    Parcel *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->core = core;
    p->in = in;
    pthread_mutex_lock(&registry_lock);
    p->id = next_id++;
    p->next = registry;
    registry = p;
    pthread_mutex_unlock(&registry_lock);
    return p;
}

static void parcel_close(Parcel *p) {
    pthread_mutex_lock(&registry_lock);
    for (Parcel **link = &registry; *link; link = &(*link)->next) {
        if (*link == p) {
            *link = p->next;
            break;
        }
    }
    pthread_mutex_unlock(&registry_lock);
}

/* Caller holds registry_lock. */
static Parcel *parcel_find(int64_t id) {
    for (Parcel *p = registry; p; p = p->next)
        if (p->id == id)
            return p;
    return NULL;
}

/* ---- the functions VapourSynth calls ------------------------------------------------------ */

/* Builds the kwargs dict from the arguments the user actually passed. NULL on a Python error. */
static PyObject *forwarded_kwargs(const PyApi *py, const VSMap *in, const VSAPI *vsapi) {
    PyObject *kwargs = py->Dict_New();
    for (size_t i = 0; kwargs && i < NUM_OPTIONS; i++) {
        const char *name = srgan_options[i].name;
        if (vsapi->mapNumElements(in, name) < 1)
            continue;
        PyObject *value = srgan_options[i].is_int
            ? py->Long_FromLongLong(vsapi->mapGetInt(in, name, 0, NULL))
            : py->Unicode_FromStringAndSize(vsapi->mapGetData(in, name, 0, NULL),
                                            vsapi->mapGetDataSize(in, name, 0, NULL));
        if (!value || py->Dict_SetItemString(kwargs, name, value) < 0) {
            py_release(py, value);
            py_release(py, kwargs);
            return NULL;
        }
        py_release(py, value);
    }
    return kwargs;
}

/* Runs vsvsr.vapoursynth_plugin._invoke_from_shim(id, kwargs). Caller holds the GIL. */
static int call_python(const PyApi *py, int64_t id, const VSMap *in, const VSAPI *vsapi,
                       char *err, size_t errlen) {
    PyObject *module = NULL, *entry = NULL, *kwargs = NULL, *handle = NULL, *result = NULL;
    module = py->Import_ImportModule(IMPL_MODULE);
    if (!module) {
        python_error(py, "vsr.SRGAN: cannot import " IMPL_MODULE " (%s); install vsvsr into the "
                     "Python that runs this script (pip install vsvsr)", err, errlen);
        goto done;
    }
    entry = py->Object_GetAttrString(module, IMPL_ENTRY);
    if (!entry) {
        python_error(py, "vsr.SRGAN: %s; the plugin and the Python package are out of step: "
                     "reinstall vsvsr", err, errlen);
        goto done;
    }
    kwargs = forwarded_kwargs(py, in, vsapi);
    handle = kwargs ? py->Long_FromLongLong(id) : NULL;
    if (!handle) {
        python_error(py, "vsr.SRGAN: cannot pass the arguments to Python (%s)", err, errlen);
        goto done;
    }
    /* The entry point words its own errors ("vsr.SRGAN: ..."); pass them through unchanged. */
    result = py->Object_CallFunctionObjArgs(entry, handle, kwargs, (PyObject *)NULL);
    if (!result)
        python_error(py, "%s", err, errlen);
done:
    py_release(py, result);
    py_release(py, handle);
    py_release(py, kwargs);
    py_release(py, entry);
    py_release(py, module);
    return result != NULL;
}

static void VS_CC srgan_create(const VSMap *in, VSMap *out, void *user_data, VSCore *core,
                               const VSAPI *vsapi) {
    (void)user_data;
    char err[2048];
    PyApi py;
    if (!python_load(&py, err, sizeof err)) {
        vsapi->mapSetError(out, err);
        return;
    }
    VSNode *clip = vsapi->mapGetNode(in, "clip", 0, NULL);
    Parcel *p = parcel_open(core, clip);
    if (!p) {
        vsapi->freeNode(clip);
        vsapi->mapSetError(out, "vsr.SRGAN: out of memory");
        return;
    }

    /* The thread may or may not hold the GIL already (the vapoursynth module releases it
       around invoke in current releases, older ones did not); Ensure handles both. */
    PyGILState_STATE gil = py.GILState_Ensure();
    int ok = call_python(&py, p->id, in, vsapi, err, sizeof err);
    py.GILState_Release(gil);

    parcel_close(p);
    /* Freed without the GIL: dropping a node may run a Python filter's free callback, which
       takes the GIL itself. */
    if (p->in)
        vsapi->freeNode(p->in);
    if (ok && p->out) {
        vsapi->mapConsumeNode(out, "clip", p->out, maReplace);
    } else {
        if (p->out)
            vsapi->freeNode(p->out);
        if (ok)
            snprintf(err, sizeof err, "vsr.SRGAN: " IMPL_MODULE " returned without handing back a "
                     "clip; the plugin and the Python package are out of step: reinstall vsvsr");
        vsapi->mapSetError(out, err);
    }
    free(p);
}

static void VS_CC shim_take(const VSMap *in, VSMap *out, void *user_data, VSCore *core,
                            const VSAPI *vsapi) {
    (void)user_data;
    int64_t id = vsapi->mapGetInt(in, "id", 0, NULL);
    const char *problem = NULL;
    VSNode *node = NULL;
    pthread_mutex_lock(&registry_lock);
    Parcel *p = parcel_find(id);
    if (!p)
        problem = "vsr.ShimTake: no clip is parked under this id (ShimTake is internal to vsr.SRGAN)";
    else if (p->core != core)
        problem = "vsr.SRGAN: the clip belongs to another core than vapoursynth.core in the "
                  "calling thread; call vsr.SRGAN on the core that created the clip";
    else if (!p->in)
        problem = "vsr.ShimTake: this clip was already taken (ShimTake is internal to vsr.SRGAN)";
    else {
        node = p->in;
        p->in = NULL;
    }
    pthread_mutex_unlock(&registry_lock);
    if (node)
        vsapi->mapConsumeNode(out, "clip", node, maReplace);
    else
        vsapi->mapSetError(out, problem);
}

static void VS_CC shim_give(const VSMap *in, VSMap *out, void *user_data, VSCore *core,
                            const VSAPI *vsapi) {
    (void)user_data;
    int64_t id = vsapi->mapGetInt(in, "id", 0, NULL);
    VSNode *node = vsapi->mapGetNode(in, "clip", 0, NULL);
    VSNode *replaced = NULL;
    const char *problem = NULL;
    pthread_mutex_lock(&registry_lock);
    Parcel *p = parcel_find(id);
    if (!p)
        problem = "vsr.ShimGive: no vsr.SRGAN call is waiting under this id (ShimGive is internal "
                  "to vsr.SRGAN)";
    else if (p->core != core)
        problem = "vsr.SRGAN: the result was made on another core than the input clip";
    else {
        replaced = p->out;
        p->out = node;
        node = NULL;
    }
    pthread_mutex_unlock(&registry_lock);
    if (replaced)
        vsapi->freeNode(replaced);
    if (node)
        vsapi->freeNode(node);
    if (problem)
        vsapi->mapSetError(out, problem);
}

VS_EXTERNAL_API(void) VapourSynthPluginInit2(VSPlugin *plugin, const VSPLUGINAPI *vspapi) {
    /* API 4.0 is all this file uses, so any R55+ core can load it. */
    vspapi->configPlugin("com.vsvsr.vsr", "vsr", "vsvsr spatio-temporal SRGAN super-resolution",
                         SHIM_VERSION, VAPOURSYNTH_API_VERSION, 0, plugin);
    vspapi->registerFunction("SRGAN", srgan_signature, "clip:vnode;", srgan_create, NULL, plugin);
    vspapi->registerFunction("ShimTake", "id:int;", "clip:vnode;", shim_take, NULL, plugin);
    vspapi->registerFunction("ShimGive", "clip:vnode;id:int;", "", shim_give, NULL, plugin);
}
