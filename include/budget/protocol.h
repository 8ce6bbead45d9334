/*
 * protocol.h: what budgetd and its clients must agree on: the protocol
 * version, the frame limits, the default socket path and the frame codec.
 *
 * A frame is a 4-byte big-endian length N followed by N bytes of protobuf
 * (proto/budget.proto). N = 0 and N > the limit are protocol violations.
 */
#ifndef BUDGET_PROTOCOL_H
#define BUDGET_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#define BUDGET_PROTOCOL_VERSION 1u

/* Default and hard upper bound of a frame's payload. */
#define BUDGET_FRAME_MAX       (1024u * 1024u)
#define BUDGET_FRAME_MAX_LIMIT (64u * 1024u * 1024u)
#define BUDGET_FRAME_HEADER    4u

#define BUDGET_SOCKET_DIR     "/run/budgetd"
#define BUDGET_SOCKET_DEFAULT BUDGET_SOCKET_DIR "/budgetd.sock"
#define BUDGET_SOCKET_ENV     "BUDGETD_SOCKET"

/* Request ids: 1..BUDGET_REQUEST_ID_MAX bytes of [A-Za-z0-9._:-]. */
#define BUDGET_REQUEST_ID_MAX 64u

enum wire_status {
	WIRE_MORE = 0,       /* a whole frame is not buffered yet */
	WIRE_OK = 1,         /* *out holds a decoded message */
	WIRE_TOO_LARGE = -1, /* length 0 or above the limit */
	WIRE_MALFORMED = -2, /* payload is not a valid message */
	WIRE_IO = -3,        /* blocking I/O failed or peer closed; errno */
};

struct evbuffer;

/*
 * Decode one frame from the front of in. Returns WIRE_OK and sets *out (free
 * with protobuf_c_message_free_unpacked(*out, NULL)) and drains the frame;
 * WIRE_MORE and leaves in untouched; WIRE_TOO_LARGE or WIRE_MALFORMED on a
 * protocol violation, after which the stream cannot be resynchronised. The
 * allocation done by the protobuf decoder is capped, so a hostile frame
 * cannot make the caller allocate more than a small multiple of max.
 */
int wire_decode(struct evbuffer *in, size_t max,
    const ProtobufCMessageDescriptor *d, ProtobufCMessage **out);

/*
 * Append msg as one frame to out. Returns 0, or WIRE_TOO_LARGE (nothing
 * appended) when the packed message exceeds max, or WIRE_MALFORMED when it
 * packs to nothing (a length-0 frame is forbidden).
 */
int wire_encode(struct evbuffer *out, size_t max, const ProtobufCMessage *msg);

/*
 * Unpack a payload (no length header) with the same allocation cap as
 * wire_decode. Returns NULL when it does not decode.
 */
ProtobufCMessage *wire_unpack(const ProtobufCMessageDescriptor *d, size_t max,
    size_t len, const uint8_t *data);

/*
 * Blocking variants for clients. wire_write_fd writes the whole frame,
 * retrying on EINTR and short writes. wire_read_fd reads exactly one frame.
 * Both return 0/WIRE_OK on success or a negative enum wire_status; on
 * WIRE_IO errno says why (0 when the peer closed cleanly before a frame).
 */
int wire_write_fd(int fd, size_t max, const ProtobufCMessage *msg);
int wire_read_fd(int fd, size_t max, const ProtobufCMessageDescriptor *d,
    ProtobufCMessage **out);

/* Write or read exactly len bytes on a blocking fd; 0 or -1 with errno. */
int wire_write_all(int fd, const void *buf, size_t len);
int wire_read_all(int fd, void *buf, size_t len);

#endif /* BUDGET_PROTOCOL_H */
