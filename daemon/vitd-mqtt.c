/* vitd-mqtt.c — the MQTT connection: queue, spool thread, network thread.
 *
 *   main thread ──(bounded queue, m->lock)──> spool thread ──append──> disk spool
 *                                                  │ eventfd                │ (spool_lock)
 *                                                  v                        v
 *                                   network thread: libmosquitto, publish spool in order,
 *                                   PUBACK -> commit, retained/volatile messages, reconnects
 *
 * The main thread only takes m->lock for a queue push or a status read, so it never waits for
 * the disk or the network. Events past QUEUE_MAX waiting for the spool thread are dropped and
 * counted (a disk that stalls for that long). The spool thread appends every event before the
 * network thread may send it, and fsyncs at most once per SYNC_INTERVAL_US (see vitd-spool.c).
 *
 * The network thread uses libmosquitto's non-threaded interface and never blocks on the
 * network: mosquitto_connect_async() starts a non-blocking TCP connect, then the thread poll()s
 * the client's socket and an eventfd the spool thread and the main thread write to, and calls
 * mosquitto_loop_read/write/misc. Connecting is bounded by CONNECT_TIMEOUT_US from the attempt
 * (TCP, TLS handshake and CONNACK together), so a broker that drops SYNs or accepts and never
 * answers costs a timeout and a retry, and shutdown is never held by the network.
 * While the TCP connect is pending the socket is polled for writing; after that, until the
 * CONNACK, only for reading (libmosquitto's want_write stays set through a TLS handshake, and
 * polling for writing then would spin), with a short timeout so queued bytes still go out.
 * At most WINDOW spooled messages are in flight; a PUBACK (or, at QoS 0, the write) marks one
 * delivered, and the spool is committed up to the oldest message still in flight. A lost
 * connection destroys the client (nothing stays queued inside libmosquitto), and the next one
 * rewinds the spool to the first uncommitted message: in order, at least once.
 *
 * Why one file past ~600 lines: the three threads share one struct and one lock discipline
 * (m->lock for the queue and status, spool_lock for the spool, the in-flight window owned by the
 * network thread alone); keeping every place that takes those locks in one file is what makes
 * the ordering and at-least-once arguments above checkable by reading.
 */
#include "vitd-mqtt.h"

#include "vitd-log.h"
#include "vitd-spool.h"

#include <errno.h>
#include <mosquitto.h>
#include <netdb.h>
#include <stdarg.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define QUEUE_MAX 8192
#define WINDOW 64
#define KEEPALIVE_S 30
#define SYNC_INTERVAL_US G_USEC_PER_SEC
#define BACKOFF_MIN_US (500 * 1000)
#define BACKOFF_MAX_US (10 * G_USEC_PER_SEC)
#define CONNECT_TIMEOUT_US (10 * G_USEC_PER_SEC)
#define POLL_MS 250
#define HANDSHAKE_POLL_MS 20
#define SHUTDOWN_FLUSH_US (700 * 1000)
#define SHUTDOWN_WAIT_US (2 * G_USEC_PER_SEC)

typedef enum { ITEM_RETAINED, ITEM_VOLATILE, ITEM_CONFIG } ItemKind;

typedef struct {
    ItemKind kind;
    char *topic, *payload;
    VpMqttConfig *config;
} Item;

typedef struct {
    int mid;
    guint64 id;
    gboolean done;
} Inflight;

struct _VitdMqtt {
    GMutex lock;   /* queues, status, stopping */
    GCond cond;    /* the spool thread waits for events */
    GQueue events; /* of Item-less (topic, payload) pairs: char* topic then char* payload */
    guint n_events;
    GQueue items; /* of Item*, for the network thread */
    gboolean stopping, net_done;
    GCond net_done_cond;
    VitdMqttStatus status;
    guint64 queue_dropped, spool_dropped, spool_pending;
    guint idle_id;
    VitdMqttChanged changed;
    gpointer changed_data;

    int wake_fd;
    GMutex spool_lock;
    VitdSpool *spool;
    GThread *spool_thread, *net_thread;

    /* network thread only */
    VpMqttConfig *config;
    char *status_topic;
    struct mosquitto *mosq;
    gboolean tcp_up;        /* the TCP connect completed */
    gboolean connected;     /* CONNACK accepted */
    gboolean connack_error; /* the attempt's failure is already reported */
    char *lib_error;        /* libmosquitto's last error log line (OpenSSL's reason) */
    gint64 next_attempt_us, attempt_us, backoff_us;
    GArray *inflight;     /* of Inflight, oldest first */
    Inflight *publishing; /* the message mosquitto_publish() is sending (QoS 0 acks at once) */
    GHashTable *retained; /* topic -> payload, republished on each connection */
};

const char *vitd_mqtt_state_to_string(VitdMqttState state)
{
    static const char *const names[] = {"disabled", "connecting", "connected", "disconnected"};
    return state < G_N_ELEMENTS(names) ? names[state] : "unknown";
}

void vitd_mqtt_status_clear(VitdMqttStatus *status)
{
    g_clear_pointer(&status->last_error, g_free);
}

static void item_free(Item *item)
{
    g_free(item->topic);
    g_free(item->payload);
    vp_mqtt_config_free(item->config);
    g_free(item);
}

static void wake_net(VitdMqtt *m)
{
    uint64_t one = 1;
    if (write(m->wake_fd, &one, sizeof one) < 0 && errno != EAGAIN)
        vitd_log_warning("MQTT: cannot wake the network thread: %s", g_strerror(errno));
}

/* ---- status (any thread) ---- */

static gboolean on_changed_idle(gpointer data)
{
    VitdMqtt *m = data;
    g_mutex_lock(&m->lock);
    m->idle_id = 0;
    g_mutex_unlock(&m->lock);
    if (m->changed)
        m->changed(m->changed_data);
    return G_SOURCE_REMOVE;
}

/* Sets the state (unless STATE is -1) and, when ERROR is not NULL, the last error; tells the
 * main loop if either changed. */
static void set_status(VitdMqtt *m, int state, const char *error)
{
    g_mutex_lock(&m->lock);
    gboolean changed = state >= 0 && m->status.state != (VitdMqttState)state;
    if (state >= 0)
        m->status.state = state;
    if (error && g_strcmp0(error, m->status.last_error) != 0) {
        g_free(m->status.last_error);
        m->status.last_error = g_strdup(error);
        changed = TRUE;
    }
    if (changed && !m->idle_id && m->changed)
        m->idle_id = g_idle_add(on_changed_idle, m);
    g_mutex_unlock(&m->lock);
}

/* Logs "MQTT: FORMAT" (once while it repeats) and makes it the last error. */
static void set_error(VitdMqtt *m, int state, const char *format, ...) G_GNUC_PRINTF(3, 4);

static void set_error(VitdMqtt *m, int state, const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    g_autofree char *text = g_strdup_vprintf(format, ap);
    va_end(ap);
    g_mutex_lock(&m->lock);
    gboolean repeated = g_strcmp0(text, m->status.last_error) == 0;
    g_mutex_unlock(&m->lock);
    if (!repeated) /* a broker that stays down must not flood the journal */
        vitd_log_full(LOG_WARNING, NULL, "mqtt", "MQTT: %s", text);
    set_status(m, state, text);
}

/* Copies the spool's counters to the status (call with spool_lock held). */
static void update_spool_counters(VitdMqtt *m)
{
    guint64 pending = vitd_spool_get_pending(m->spool), dropped = vitd_spool_get_dropped(m->spool);
    g_mutex_lock(&m->lock);
    m->spool_pending = pending;
    m->spool_dropped = dropped;
    g_mutex_unlock(&m->lock);
}

void vitd_mqtt_get_status(VitdMqtt *m, VitdMqttStatus *ret)
{
    g_mutex_lock(&m->lock);
    ret->state = m->status.state;
    ret->spooled = m->spool_pending + m->n_events;
    ret->dropped = m->spool_dropped + m->queue_dropped;
    ret->last_error = g_strdup(m->status.last_error ? m->status.last_error : "");
    g_mutex_unlock(&m->lock);
}

/* ---- the main thread's side ---- */

void vitd_mqtt_publish_event(VitdMqtt *m, const char *topic, const char *payload)
{
    g_mutex_lock(&m->lock);
    if (m->n_events >= QUEUE_MAX) {
        m->queue_dropped++;
    } else {
        g_queue_push_tail(&m->events, g_strdup(topic));
        g_queue_push_tail(&m->events, g_strdup(payload));
        m->n_events++;
        g_cond_signal(&m->cond);
    }
    g_mutex_unlock(&m->lock);
}

static void push_item(VitdMqtt *m, Item *item)
{
    g_mutex_lock(&m->lock);
    g_queue_push_tail(&m->items, item);
    g_mutex_unlock(&m->lock);
    wake_net(m);
}

void vitd_mqtt_publish_retained(VitdMqtt *m, const char *topic, const char *payload)
{
    Item *item = g_new0(Item, 1);
    *item = (Item){ITEM_RETAINED, g_strdup(topic), g_strdup(payload), NULL};
    push_item(m, item);
}

void vitd_mqtt_publish_volatile(VitdMqtt *m, const char *topic, const char *payload)
{
    Item *item = g_new0(Item, 1);
    *item = (Item){ITEM_VOLATILE, g_strdup(topic), g_strdup(payload), NULL};
    push_item(m, item);
}

void vitd_mqtt_reconfigure(VitdMqtt *m, const VpMqttConfig *config)
{
    Item *item = g_new0(Item, 1);
    *item = (Item){ITEM_CONFIG, NULL, NULL, vp_mqtt_config_copy(config)};
    push_item(m, item);
}

/* ---- the spool thread ---- */

/* Appends every queued event; returns FALSE once stopping and the queue is empty. */
static gboolean spool_take_events(VitdMqtt *m, gint64 *last_sync_us)
{
    GQueue batch = G_QUEUE_INIT;
    g_mutex_lock(&m->lock);
    while (m->n_events == 0 && !m->stopping)
        if (!g_cond_wait_until(&m->cond, &m->lock, g_get_monotonic_time() + SYNC_INTERVAL_US))
            break;
    batch = m->events;
    g_queue_init(&m->events);
    guint n = m->n_events;
    m->n_events = 0;
    gboolean more = !m->stopping;
    g_mutex_unlock(&m->lock);

    int first_error = 0;
    g_mutex_lock(&m->spool_lock);
    for (guint i = 0; i < n; i++) {
        g_autofree char *topic = g_queue_pop_head(&batch);
        g_autofree char *payload = g_queue_pop_head(&batch);
        int r = vitd_spool_append(m->spool, topic, payload, FALSE, NULL);
        if (r < 0) {
            first_error = first_error ? first_error : r;
            g_mutex_lock(&m->lock);
            m->queue_dropped++;
            g_mutex_unlock(&m->lock);
        }
    }
    gint64 now = g_get_monotonic_time();
    if (now - *last_sync_us >= SYNC_INTERVAL_US || !more) {
        int r = vitd_spool_sync(m->spool);
        first_error = first_error ? first_error : r;
        *last_sync_us = now;
    }
    update_spool_counters(m);
    g_mutex_unlock(&m->spool_lock);
    if (first_error < 0)
        set_error(m, -1, "cannot write the spool %s: %s", m->config->spool_path,
                  g_strerror(-first_error));
    if (n > 0)
        wake_net(m);
    return more;
}

static gpointer spool_main(gpointer data)
{
    VitdMqtt *m = data;
    gint64 last_sync_us = g_get_monotonic_time();
    while (spool_take_events(m, &last_sync_us))
        ;
    return NULL;
}

/* ---- the network thread: delivery bookkeeping ---- */

/* Commits the spool up to the oldest message still in flight. */
static void commit_delivered(VitdMqtt *m)
{
    guint n = 0;
    guint64 last = 0;
    while (n < m->inflight->len && g_array_index(m->inflight, Inflight, n).done)
        last = g_array_index(m->inflight, Inflight, n++).id;
    if (n == 0) {
        g_mutex_lock(&m->spool_lock);
        update_spool_counters(m);
        g_mutex_unlock(&m->spool_lock);
        return;
    }
    g_array_remove_range(m->inflight, 0, n);
    g_mutex_lock(&m->spool_lock);
    vitd_spool_commit(m->spool, last);
    update_spool_counters(m);
    g_mutex_unlock(&m->spool_lock);
}

static void on_publish(struct mosquitto *mosq, void *data, int mid)
{
    VitdMqtt *m = data;
    if (m->publishing && m->publishing->mid == mid) {
        m->publishing->done = TRUE;
        return;
    }
    for (guint i = 0; i < m->inflight->len; i++) {
        Inflight *f = &g_array_index(m->inflight, Inflight, i);
        if (f->mid == mid) {
            f->done = TRUE;
            break;
        }
    }
    commit_delivered(m);
}

/* The next spooled message to send, or FALSE. */
static gboolean spool_next(VitdMqtt *m, VitdSpoolMessage *ret_msg)
{
    g_mutex_lock(&m->spool_lock);
    int r = vitd_spool_next(m->spool, ret_msg);
    g_mutex_unlock(&m->spool_lock);
    if (r < 0)
        set_error(m, -1, "cannot read the spool %s: %s", m->config->spool_path, g_strerror(-r));
    return r > 0;
}

/* Publishes spooled messages while fewer than WINDOW are in flight. The spool lock is not held
 * while publishing: at QoS 0 libmosquitto reports the message sent from inside the call. */
static void publish_spool(VitdMqtt *m)
{
    int rc = MOSQ_ERR_SUCCESS;
    VitdSpoolMessage msg = {0};
    while (rc == MOSQ_ERR_SUCCESS && m->inflight->len < WINDOW && spool_next(m, &msg)) {
        Inflight f = {-1, msg.id, FALSE};
        m->publishing = &f;
        rc = mosquitto_publish(m->mosq, &f.mid, msg.topic, (int)strlen(msg.payload), msg.payload,
                               m->config->qos, msg.retain);
        m->publishing = NULL;
        if (rc == MOSQ_ERR_SUCCESS)
            g_array_append_val(m->inflight, f);
        vitd_spool_message_clear(&msg);
    }
    /* A failed publish is left to the connection handling: the next connection rewinds. */
    commit_delivered(m);
}

static void publish_retained_all(VitdMqtt *m)
{
    GHashTableIter it;
    gpointer topic, payload;
    g_hash_table_iter_init(&it, m->retained);
    while (g_hash_table_iter_next(&it, &topic, &payload))
        mosquitto_publish(m->mosq, NULL, topic, (int)strlen(payload), payload, m->config->qos,
                          true);
}

/* ---- the network thread: connections ---- */

static void on_connect(struct mosquitto *mosq, void *data, int rc)
{
    VitdMqtt *m = data;
    if (rc != 0) {
        m->connack_error = TRUE;
        set_error(m, VITD_MQTT_DISCONNECTED, "the broker at %s refused the connection: %s",
                  m->config->url, mosquitto_connack_string(rc));
        return;
    }
    m->connected = TRUE;
    m->backoff_us = 0;
    vitd_log_full(LOG_INFO, NULL, "mqtt", "MQTT: connected to %s as %s", m->config->url,
                  m->config->client_id);
    mosquitto_publish(mosq, NULL, m->status_topic, 6, "online", m->config->qos, true);
    publish_retained_all(m);
    g_array_set_size(m->inflight, 0);
    g_mutex_lock(&m->spool_lock);
    vitd_spool_rewind(m->spool);
    g_mutex_unlock(&m->spool_lock);
    set_status(m, VITD_MQTT_CONNECTED, NULL);
}

static const char *mosq_error(int rc, int err)
{
    return rc == MOSQ_ERR_ERRNO ? g_strerror(err) : mosquitto_strerror(rc);
}

/* A TLS connection the broker ended without a reason OpenSSL could read (an alert lost to a
 * reset), as a broker does when it wants a client certificate. On loopback this can already
 * happen inside mosquitto_connect_async(), which runs the handshake as far as it can. */
static gboolean tls_reset(int rc, int err)
{
    return rc == MOSQ_ERR_CONN_LOST ||
           (rc == MOSQ_ERR_ERRNO && (err == EPROTO || err == ECONNRESET || err == EPIPE));
}

/* Destroys the client after a failed or lost connection (RC, and ERR when RC is
 * MOSQ_ERR_ERRNO) and schedules the next attempt. */
static void teardown(VitdMqtt *m, int rc, int err)
{
    if (!m->mosq)
        return;
    if (m->connected)
        set_error(m, VITD_MQTT_DISCONNECTED, "lost the connection to %s: %s", m->config->url,
                  mosq_error(rc, err));
    else if (!m->connack_error && !m->lib_error && m->config->tls && tls_reset(rc, err))
        /* OpenSSL's reason is lost when the broker resets the connection after its alert. */
        set_error(m, VITD_MQTT_DISCONNECTED,
                  "cannot connect to %s: the broker closed the TLS connection before CONNACK (%s): "
                  "it requires a client certificate (cert-file, key-file) or rejected this one",
                  m->config->url, mosq_error(rc, err));
    else if (!m->connack_error && m->lib_error)
        set_error(m, VITD_MQTT_DISCONNECTED, "cannot connect to %s: %s (%s)", m->config->url,
                  mosq_error(rc, err), m->lib_error);
    else if (!m->connack_error)
        set_error(m, VITD_MQTT_DISCONNECTED, "cannot connect to %s: %s", m->config->url,
                  mosq_error(rc, err));
    g_clear_pointer(&m->lib_error, g_free);
    mosquitto_destroy(m->mosq);
    m->mosq = NULL;
    m->connected = m->tcp_up = FALSE;
    g_array_set_size(m->inflight, 0);
    m->backoff_us = CLAMP(m->backoff_us * 2, BACKOFF_MIN_US, BACKOFF_MAX_US);
    m->next_attempt_us = g_get_monotonic_time() + m->backoff_us;
}

/* Keeps libmosquitto's error lines: a failed TLS handshake says why only there ("OpenSSL
 * Error[0]: error:0A000086:SSL routines::certificate verify failed"). */
static void on_log(struct mosquitto *mosq, void *data, int level, const char *text)
{
    VitdMqtt *m = data;
    if (level != MOSQ_LOG_ERR || !text)
        return;
    const char *reason = strstr(text, "SSL routines::");
    g_free(m->lib_error);
    m->lib_error = g_strdup(reason ? reason + strlen("SSL routines::") : text);
}

/* The password file's first line, or NULL with RET_ERROR set. */
static char *read_password(const char *path, char **ret_error)
{
    g_autoptr(GError) err = NULL;
    char *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, &err)) {
        *ret_error = g_strdup_printf("cannot read the password file: %s", err->message);
        return NULL;
    }
    text[strcspn(text, "\r\n")] = '\0';
    return text;
}

/* Sets credentials, TLS and the last will on a new client; returns an error text or NULL. */
static char *configure_client(VitdMqtt *m)
{
    const VpMqttConfig *c = m->config;
    char *error = NULL;
    mosquitto_int_option(m->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    mosquitto_max_inflight_messages_set(m->mosq, 0);        /* vitd keeps its own window */
    mosquitto_int_option(m->mosq, MOSQ_OPT_TCP_NODELAY, 1); /* events are small and urgent */
    mosquitto_will_set(m->mosq, m->status_topic, 7, "offline", c->qos, true);
    if (c->username) {
        g_autofree char *password =
            c->password_file ? read_password(c->password_file, &error) : NULL;
        if (error)
            return error;
        mosquitto_username_pw_set(m->mosq, c->username, password);
    }
    if (c->tls) {
        int rc = mosquitto_tls_set(m->mosq, c->ca_file, c->ca_file ? NULL : "/etc/ssl/certs",
                                   c->cert_file, c->key_file, NULL);
        if (rc != MOSQ_ERR_SUCCESS)
            return g_strdup_printf("TLS setup failed: %s", mosquitto_strerror(rc));
    }
    mosquitto_connect_callback_set(m->mosq, on_connect);
    mosquitto_publish_callback_set(m->mosq, on_publish);
    mosquitto_log_callback_set(m->mosq, on_log);
    return NULL;
}

/* Starts a connection attempt; never waits for the network (a host name is resolved here). */
static void connect_broker(VitdMqtt *m)
{
    m->connack_error = m->tcp_up = FALSE;
    m->attempt_us = g_get_monotonic_time();
    m->mosq = mosquitto_new(m->config->client_id, true, m);
    if (!m->mosq) {
        set_error(m, VITD_MQTT_DISCONNECTED, "cannot create an MQTT client: %s", g_strerror(errno));
        m->next_attempt_us = g_get_monotonic_time() + BACKOFF_MAX_US;
        return;
    }
    set_status(m, VITD_MQTT_CONNECTING, NULL);
    g_autofree char *error = configure_client(m);
    int rc = MOSQ_ERR_SUCCESS, err = 0;
    if (!error) {
        rc = mosquitto_connect_async(m->mosq, m->config->host, m->config->port, KEEPALIVE_S);
        err = errno;
        if (rc == MOSQ_ERR_EAI)
            error = g_strdup_printf("cannot resolve the broker's host in %s: %s", m->config->url,
                                    gai_strerror(err));
    }
    if (error) {
        set_error(m, VITD_MQTT_DISCONNECTED, "%s", error);
        m->connack_error = TRUE; /* already reported */
    }
    if (error || rc != MOSQ_ERR_SUCCESS)
        teardown(m, rc, err);
}

/* ---- the network thread: main loop ---- */

static void apply_config(VitdMqtt *m, VpMqttConfig *config)
{
    if (m->config && (g_strcmp0(m->config->spool_path, config->spool_path) != 0 ||
                      m->config->spool_max_size != config->spool_max_size))
        vitd_log_warning("MQTT: the spool settings take effect when vitd restarts");
    vp_mqtt_config_free(m->config);
    m->config = config;
    m->connack_error = TRUE; /* a deliberate reconnect is not an error */
    if (m->mosq) {
        mosquitto_disconnect(m->mosq);
        teardown(m, MOSQ_ERR_SUCCESS, 0);
    }
    m->backoff_us = 0;
    m->next_attempt_us = 0;
}

static void handle_item(VitdMqtt *m, Item *item)
{
    switch (item->kind) {
    case ITEM_CONFIG:
        apply_config(m, g_steal_pointer(&item->config));
        break;
    case ITEM_RETAINED:
        if (*item->payload)
            g_hash_table_replace(m->retained, g_strdup(item->topic), g_strdup(item->payload));
        else
            g_hash_table_remove(m->retained, item->topic);
        if (m->connected)
            mosquitto_publish(m->mosq, NULL, item->topic, (int)strlen(item->payload), item->payload,
                              m->config->qos, true);
        break;
    case ITEM_VOLATILE:
        if (m->connected)
            mosquitto_publish(m->mosq, NULL, item->topic, (int)strlen(item->payload), item->payload,
                              0, false);
        break;
    }
    item_free(item);
}

/* Handles the main thread's items; returns FALSE once stopping. */
static gboolean take_items(VitdMqtt *m)
{
    GQueue items = G_QUEUE_INIT;
    g_mutex_lock(&m->lock);
    items = m->items;
    g_queue_init(&m->items);
    gboolean more = !m->stopping;
    g_mutex_unlock(&m->lock);
    Item *item;
    while ((item = g_queue_pop_head(&items)))
        handle_item(m, item);
    return more;
}

/* The pending TCP connect finished: returns 0 or the connect's errno. */
static int tcp_connect_result(int sock)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(sock, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        return errno;
    return err;
}

/* The events to poll the client's socket for, and the poll timeout, in the current phase. */
static short socket_events(VitdMqtt *m, int *timeout_ms)
{
    if (!m->tcp_up)
        return POLLOUT;
    if (m->connected)
        return POLLIN | (mosquitto_want_write(m->mosq) ? POLLOUT : 0);
    if (mosquitto_want_write(m->mosq))
        *timeout_ms = MIN(*timeout_ms, HANDSHAKE_POLL_MS);
    return POLLIN;
}

/* Waits up to TIMEOUT_MS for the broker's socket or a wake-up, then lets libmosquitto work. */
static void poll_once(VitdMqtt *m, int timeout_ms)
{
    struct pollfd fds[2] = {{m->wake_fd, POLLIN, 0}, {-1, 0, 0}};
    int sock = m->mosq ? mosquitto_socket(m->mosq) : -1;
    if (sock >= 0)
        fds[1] = (struct pollfd){sock, socket_events(m, &timeout_ms), 0};
    if (poll(fds, sock >= 0 ? 2 : 1, timeout_ms) < 0 && errno != EINTR)
        return;
    uint64_t n;
    if (fds[0].revents & POLLIN && read(m->wake_fd, &n, sizeof n) < 0 && errno != EAGAIN)
        vitd_log_warning("MQTT: wake-up read failed: %s", g_strerror(errno));
    if (sock < 0)
        return;
    if (!m->tcp_up) {
        if (!fds[1].revents)
            return;
        int err = tcp_connect_result(sock);
        if (err != 0) {
            teardown(m, MOSQ_ERR_ERRNO, err);
            return;
        }
        m->tcp_up = TRUE;
    }
    /* Reading also drives a TLS handshake; before the CONNACK it is tried on every pass. */
    int rc = MOSQ_ERR_SUCCESS;
    if (fds[1].revents & (POLLIN | POLLERR | POLLHUP) || !m->connected)
        rc = mosquitto_loop_read(m->mosq, 1);
    if (rc == MOSQ_ERR_SUCCESS && m->mosq && mosquitto_want_write(m->mosq))
        rc = mosquitto_loop_write(m->mosq, 1);
    if (rc == MOSQ_ERR_SUCCESS)
        rc = mosquitto_loop_misc(m->mosq);
    int err = errno;
    if (rc != MOSQ_ERR_SUCCESS || m->connack_error)
        teardown(m, rc, err);
}

static void net_step(VitdMqtt *m)
{
    gint64 now = g_get_monotonic_time();
    if (!m->mosq && now >= m->next_attempt_us) {
        connect_broker(m);
        return;
    }
    if (m->mosq && !m->connected && now - m->attempt_us > CONNECT_TIMEOUT_US) {
        set_error(m, VITD_MQTT_DISCONNECTED, "connecting to %s timed out after %d s: %s",
                  m->config->url, (int)(CONNECT_TIMEOUT_US / G_USEC_PER_SEC),
                  m->tcp_up ? "no MQTT answer (TLS handshake or CONNACK)"
                            : "no TCP connection (the broker does not answer)");
        m->connack_error = TRUE;
        teardown(m, MOSQ_ERR_SUCCESS, 0);
        return;
    }
    if (m->connected)
        publish_spool(m);
    int timeout = POLL_MS;
    if (!m->mosq)
        timeout = (int)CLAMP((m->next_attempt_us - now) / 1000, 0, POLL_MS);
    else if (!m->connected)
        timeout = (int)CLAMP((m->attempt_us + CONNECT_TIMEOUT_US - now) / 1000 + 1, 0, POLL_MS);
    poll_once(m, timeout);
}

/* Delivers what it can for a moment, says "offline" and disconnects. */
static void net_shutdown(VitdMqtt *m)
{
    gint64 end = g_get_monotonic_time() + SHUTDOWN_FLUSH_US;
    while (m->connected && g_get_monotonic_time() < end) {
        publish_spool(m);
        g_mutex_lock(&m->spool_lock);
        gboolean idle = vitd_spool_get_pending(m->spool) == 0;
        g_mutex_unlock(&m->spool_lock);
        if (idle && m->inflight->len == 0)
            break;
        poll_once(m, 50);
    }
    if (m->connected) {
        mosquitto_publish(m->mosq, NULL, m->status_topic, 7, "offline", m->config->qos, true);
        mosquitto_disconnect(m->mosq);
        for (int i = 0; i < 10 && m->mosq && mosquitto_want_write(m->mosq); i++)
            poll_once(m, 20);
    }
    if (m->mosq) {
        mosquitto_destroy(m->mosq);
        m->mosq = NULL;
    }
}

static gpointer net_main(gpointer data)
{
    VitdMqtt *m = data;
    while (take_items(m))
        net_step(m);
    /* The spool thread has spooled everything by now (it is joined first). */
    net_shutdown(m);
    g_mutex_lock(&m->lock);
    m->net_done = TRUE;
    g_cond_signal(&m->net_done_cond);
    g_mutex_unlock(&m->lock);
    return NULL;
}

/* ---- life cycle ---- */

int vitd_mqtt_new(const VpMqttConfig *config, const char *status_topic, VitdMqttChanged changed,
                  gpointer user_data, VitdMqtt **ret)
{
    static gsize lib_init = 0;
    if (g_once_init_enter(&lib_init)) {
        mosquitto_lib_init();
        g_once_init_leave(&lib_init, 1);
    }
    VitdSpool *spool = NULL;
    int r = vitd_spool_open(config->spool_path, config->spool_max_size, &spool);
    if (r < 0)
        return vitd_log_errno(r, "MQTT: cannot open the spool %s", config->spool_path);
    int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd < 0) {
        vitd_spool_close(spool);
        return vitd_log_errno(-errno, "MQTT: eventfd");
    }
    VitdMqtt *m = g_new0(VitdMqtt, 1);
    g_mutex_init(&m->lock);
    g_mutex_init(&m->spool_lock);
    g_cond_init(&m->cond);
    g_cond_init(&m->net_done_cond);
    m->wake_fd = fd;
    m->spool = spool;
    m->changed = changed;
    m->changed_data = user_data;
    m->status.state = VITD_MQTT_CONNECTING;
    m->config = vp_mqtt_config_copy(config);
    m->status_topic = g_strdup(status_topic);
    m->inflight = g_array_new(FALSE, FALSE, sizeof(Inflight));
    m->retained = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    m->spool_pending = vitd_spool_get_pending(spool);
    if (m->spool_pending > 0)
        vitd_log_info("MQTT: %" G_GUINT64_FORMAT " events in the spool %s from before",
                      m->spool_pending, config->spool_path);
    m->spool_thread = g_thread_new("vitd-mqtt-spool", spool_main, m);
    m->net_thread = g_thread_new("vitd-mqtt-net", net_main, m);
    *ret = m;
    return 0;
}

VitdMqtt *vitd_mqtt_free(VitdMqtt *m)
{
    if (!m)
        return NULL;
    g_mutex_lock(&m->lock);
    m->stopping = TRUE;
    m->changed = NULL;
    g_cond_signal(&m->cond);
    g_mutex_unlock(&m->lock);
    g_thread_join(m->spool_thread);
    wake_net(m);
    /* The network thread never waits for the network, but resolving a host name can take as
     * long as the system's resolver wants: do not wait for that. */
    g_mutex_lock(&m->lock);
    gint64 end = g_get_monotonic_time() + SHUTDOWN_WAIT_US;
    while (!m->net_done)
        if (!g_cond_wait_until(&m->net_done_cond, &m->lock, end))
            break;
    gboolean done = m->net_done;
    if (m->idle_id)
        g_source_remove(m->idle_id);
    g_mutex_unlock(&m->lock);
    if (!done) {
        vitd_log_warning("MQTT: the network thread is stuck resolving the broker's host name; "
                         "leaving it behind");
        return NULL;
    }
    g_thread_join(m->net_thread);
    vitd_spool_close(m->spool);
    close(m->wake_fd);
    g_queue_clear_full(&m->items, (GDestroyNotify)item_free);
    g_array_unref(m->inflight);
    g_hash_table_destroy(m->retained);
    vp_mqtt_config_free(m->config);
    g_free(m->status_topic);
    g_free(m->lib_error);
    vitd_mqtt_status_clear(&m->status);
    g_mutex_clear(&m->lock);
    g_mutex_clear(&m->spool_lock);
    g_cond_clear(&m->cond);
    g_cond_clear(&m->net_done_cond);
    g_free(m);
    return NULL;
}
