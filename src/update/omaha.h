/* Omaha v3: the XML update protocol of Google's Omaha (doc/ServerProtocolV3.md in
 * google/omaha), in the subset Flatcar's update_engine speaks and its Nebraska server answers.
 * Both directions for both sides: a client writes a request and parses the response, a server
 * parses the request and writes the response. Parsing and writing go through libxml2 (never
 * pasted strings); this file needs only libxml2 and libc, so the in-image updater links it.
 *
 * Request (client -> server, POST, Content-Type text/xml or application/xml):
 *   <request protocol="3.0" version="CLIENT" updaterversion="CLIENT">
 *     <os platform="…" version="…" sp="…" arch="…"/>
 *     <app appid="ID" version="V" track="CHANNEL" machineid="M" bootid="B">  (1..OMAHA_APPS_MAX)
 *       <ping active="1"/>                    optional
 *       <updatecheck/>                        optional: "is there a newer version for me?"
 *       <event eventtype="T" eventresult="R" errorcode="E" previousversion="V"/>  0..OMAHA_EVENTS_MAX
 *     </app>
 *   </request>
 * kiln's appid is the gallery image name and track its channel (Flatcar's appid is a GUID:
 * a server answers an appid it does not know with app status "error-unknownApplication").
 *
 * Response (server -> client):
 *   <response protocol="3.0" server="kiln">
 *     <daystart elapsed_seconds="S"/>
 *     <app appid="ID" status="ok">
 *       <ping status="ok"/>  <event status="ok"/> (one per event received)
 *       <updatecheck status="ok|noupdate|error-…">
 *         <urls><url codebase="http://host/…/"/></urls>     the package's URL is codebase + name
 *         <manifest version="V">
 *           <packages><package name="FILE" size="BYTES" hash="SHA1-B64" hash_sha256="HEX" required="true"/></packages>
 *           <actions><action event="postinstall" sha256="SHA256-B64" kiln_roothash="HEX" kiln_signature="FILE"/></actions>
 *         </manifest>
 *       </updatecheck>
 *     </app>
 *   </response>
 * A refusal keeps the protocol: a request the server could not take at all (malformed, too
 * large, the server unable to answer) is a <response> without <app> whose kiln_error says why,
 * sent with the HTTP status that says so (400, 413, 503 ...); an app the server could not serve
 * has an error status ("error-instanceRegistrationFailed": a new machine past the server's
 * bound, as Nebraska names an instance it could not register; "error-internal") and kiln_error.
 * "hash" (base64 SHA-1) is Omaha's own and optional here; "hash_sha256" (hex) is Omaha's
 * newer digest; the postinstall action's "sha256" (base64 of the same digest) is what
 * update_engine checks. kiln extensions (a Flatcar client ignores them): kiln_roothash, the
 * dm-verity root hash of the payload (hex), and kiln_signature, the file name (beside the
 * package, under the same codebase) of the payload's minisign signature.
 *
 * Event codes (Omaha's, plus Nebraska's 800): see enum omaha_event_type / omaha_event_result.
 *
 * Untrusted input: documents larger than OMAHA_DOC_MAX are refused before parsing; libxml2
 * runs without network access (XML_PARSE_NONET), without entity substitution, and a document
 * with a DOCTYPE is refused (no DTD, no entity declarations). Every attribute value kept is
 * bounded (the array sizes below, including the NUL) and checked: identifiers, versions and
 * names use OMAHA_TOKEN_CHARS without '/' and "..", not starting with '.' (omaha_name_ok),
 * hashes and statuses OMAHA_TOKEN_CHARS; URLs are printable ASCII without spaces; numbers are decimal in
 * range. Unknown elements and attributes are ignored (later protocol versions add some).
 *
 * Errors: 0 on success; -EMSGSIZE: the document is too large (more bytes than OMAHA_DOC_MAX);
 * -E2BIG: it has more apps, events, URLs or packages than the bounds; -EINVAL: not well-formed XML, a DOCTYPE, a wrong root element
 * or protocol, a missing or bad attribute; -ENOMEM. *reterr gets one line saying what
 * and where (line:column for XML errors, the element and attribute otherwise); no text of
 * the document other than names checked against the charset is ever copied into it. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OMAHA_DOC_MAX (64 * 1024) /* bytes of a request or response */
#define OMAHA_TOKEN_MAX 128       /* bytes of an id, version, track, name, hash */
#define OMAHA_URL_MAX 1024        /* bytes of a codebase URL */
#define OMAHA_APPS_MAX 4
#define OMAHA_EVENTS_MAX 8        /* per app */
#define OMAHA_URLS_MAX 4
#define OMAHA_PACKAGES_MAX 4
#define OMAHA_ERROR_MAX 512       /* bytes of a kiln_error: printable ASCII */
/* What an id, version, track, package name, hash or status may hold: Flatcar's GUIDs in
 * braces, hex machine ids, versions like 1.0.1+build~rc1, base64 digests. */
#define OMAHA_TOKEN_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._+~:{}@=/-"

/* eventtype values (Omaha v3; 800 is Nebraska's, sent by Flatcar's update_engine). */
enum omaha_event_type {
    OMAHA_EVENT_UNKNOWN = 0,
    OMAHA_EVENT_DOWNLOAD_COMPLETE = 1,
    OMAHA_EVENT_INSTALL_COMPLETE = 2,
    OMAHA_EVENT_UPDATE_COMPLETE = 3,      /* the new version booted (result 2), or the update failed (0) */
    OMAHA_EVENT_DOWNLOAD_STARTED = 13,
    OMAHA_EVENT_DOWNLOAD_FINISHED = 14,
    OMAHA_EVENT_UPDATE_INSTALLED = 800,   /* written to the inactive slot, reboot pending */
};
/* eventresult values. */
enum omaha_event_result {
    OMAHA_RESULT_ERROR = 0,
    OMAHA_RESULT_SUCCESS = 1,
    OMAHA_RESULT_SUCCESS_REBOOT = 2,
    OMAHA_RESULT_CANCELLED = 3,
    OMAHA_RESULT_UPDATE_DEFERRED = 9,
};

struct omaha_event {
    int type;              /* enum omaha_event_type, 0..65535 */
    int result;            /* enum omaha_event_result, 0..65535 */
    int64_t errorcode;     /* INT32_MIN..UINT32_MAX (update_engine ORs flag bits into the top) */
    bool has_errorcode;
    char previousversion[OMAHA_TOKEN_MAX + 1]; /* "" when absent */
};

struct omaha_app_request {
    char appid[OMAHA_TOKEN_MAX + 1];     /* required */
    char version[OMAHA_TOKEN_MAX + 1];   /* required: the version running now */
    char track[OMAHA_TOKEN_MAX + 1];     /* the channel; "" when absent */
    char machineid[OMAHA_TOKEN_MAX + 1]; /* "" when absent */
    char bootid[OMAHA_TOKEN_MAX + 1];    /* "" when absent */
    bool ping, updatecheck;
    struct omaha_event events[OMAHA_EVENTS_MAX];
    size_t nevents;
};

struct omaha_request {
    char client[OMAHA_TOKEN_MAX + 1]; /* <request version>: the client's name and version */
    char os_platform[OMAHA_TOKEN_MAX + 1], os_version[OMAHA_TOKEN_MAX + 1], os_sp[OMAHA_TOKEN_MAX + 1],
        os_arch[OMAHA_TOKEN_MAX + 1]; /* "" when absent */
    struct omaha_app_request apps[OMAHA_APPS_MAX];
    size_t napps; /* >= 1 */
};

struct omaha_package {
    char name[OMAHA_TOKEN_MAX + 1];    /* a plain file name: no '/', not "." or ".." */
    int64_t size;                      /* bytes, > 0 */
    char hash[OMAHA_TOKEN_MAX + 1];    /* base64 SHA-1, "" when absent */
    char hash_sha256[65];              /* lower-case hex, "" when absent */
    bool required;
};

struct omaha_app_response {
    char appid[OMAHA_TOKEN_MAX + 1];
    char status[OMAHA_TOKEN_MAX + 1];         /* "ok", "error-unknownApplication", "restricted", … */
    bool ping;                                /* a <ping status="ok"/> acknowledgement */
    size_t events;                            /* <event status="ok"/> acknowledgements */
    bool has_updatecheck;
    char update_status[OMAHA_TOKEN_MAX + 1];  /* "ok", "noupdate", "error-internal", … */
    /* the rest only with update_status "ok" (the parser then requires urls, version, packages) */
    char urls[OMAHA_URLS_MAX][OMAHA_URL_MAX + 1];
    size_t nurls;
    char version[OMAHA_TOKEN_MAX + 1];        /* <manifest version> */
    struct omaha_package packages[OMAHA_PACKAGES_MAX];
    size_t npackages;
    bool has_postinstall;
    char sha256_b64[45];                      /* postinstall sha256: base64 of 32 bytes */
    char kiln_roothash[OMAHA_TOKEN_MAX + 1];  /* hex, "" when absent */
    char kiln_signature[OMAHA_TOKEN_MAX + 1]; /* a plain file name, "" when absent */
    char error[OMAHA_ERROR_MAX + 1];          /* kiln_error: why the app was not served, "" when it was */
};

struct omaha_response {
    char server[OMAHA_TOKEN_MAX + 1];
    int64_t daystart_elapsed_seconds;         /* -1 when absent */
    struct omaha_app_response apps[OMAHA_APPS_MAX];
    size_t napps;                             /* >= 1, or 0 with error set */
    char error[OMAHA_ERROR_MAX + 1];          /* kiln_error: why the request was refused, "" when it was not */
};

/* Parse a request or response of len bytes (need not be NUL-terminated). The output is
 * zeroed first and filled only on success. */
int omaha_request_parse(const char *doc, size_t len, struct omaha_request *out, char **reterr);
int omaha_response_parse(const char *doc, size_t len, struct omaha_response *out, char **reterr);

/* Write a request or response as a UTF-8 XML document (malloc'ed, NUL-terminated; *len its
 * length when len is non-NULL). The structures are checked as the parser checks them, so
 * what a writer produces its parser accepts: -EINVAL with *reterr naming the bad field. */
int omaha_request_write(const struct omaha_request *r, char **out, size_t *len, char **reterr);
int omaha_response_write(const struct omaha_response *r, char **out, size_t *len, char **reterr);

/* A name for an event type ("update-complete", "download-started", …; "type-N" otherwise,
 * into buf of at least 16 bytes) and result ("error", "success", "success-reboot", …). */
const char *omaha_event_type_name(int type, char buf[16]);
const char *omaha_event_result_name(int result, char buf[16]);

/* SHA-256 digests between lower-case hex (64 digits) and base64 (44 characters, as in the
 * postinstall action's sha256). -EINVAL when the input is not one. */
int omaha_sha256_hex_to_b64(const char *hex, char b64[45]);
int omaha_sha256_b64_to_hex(const char *b64, char hex[65]);
/* True when s (len > 0, <= OMAHA_TOKEN_MAX) uses only OMAHA_TOKEN_CHARS. */
bool omaha_token_ok(const char *s);
/* A token that names something (appid, version, track, machineid, bootid, previousversion):
 * also no '/', no "..", not starting with '.', so it never acts as a path wherever it is
 * stored, logged or joined. */
bool omaha_name_ok(const char *s);
