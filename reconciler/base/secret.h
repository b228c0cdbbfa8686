/*
 * secret.h - the one reader of secret files (DESIGN.md "Security rules"):
 * the push hooks' secret, remote credentials, chat tokens and signing
 * secrets all come through secret_read(), so every one of them is refused
 * for the same reasons with the same words.
 *
 * Layer: base (includes only base/).  The config (state/config.c), the
 * controller's inbound chat and the chat providers (chat_read_secret) call
 * it.  What it owns: the secret it returns, until secret_free() wipes it.
 */
#ifndef FIREBREAK_SECRET_H
#define FIREBREAK_SECRET_H

#include "base/util.h"

/* Bytes a secret file may hold: tokens, passwords and TSIG key blocks
 * are far smaller; anything bigger is not a secret file. */
#define SECRET_MAX 4096

enum {
	/* One line: no CR, LF or NUL inside (passwords, the hook secret). */
	SECRET_LINE = 1u << 0,
	/* One line of printable ASCII without spaces (tokens that go into an
	 * HTTP header or an IRC command, where a space or CR/LF would inject
	 * another field).  Implies SECRET_LINE. */
	SECRET_TOKEN = 1u << 1,
};

/*
 * Read the secret file `path`: its bytes without trailing whitespace
 * (spaces, tabs, CR, LF), NUL-terminated; *out owns them (free with
 * secret_free()).  Refused, with *out NULL and a message in err_last()
 * that names the file and never its content:
 *   ERR_NOTFOUND  the file does not exist
 *   ERR           it cannot be opened or read (permissions, I/O)
 *   ERR_INVALID   not a regular file (a directory, a FIFO, a device:
 *                 symlinks are followed to what they name), empty after
 *                 trimming, holding a NUL, or breaking a `flags` rule
 *   ERR_DENIED    readable or writable by others than its owner and
 *                 group (mode & 0006): anyone on the machine could read
 *                 the secret, or replace it
 *   ERR_TOOBIG    more than SECRET_MAX bytes
 * Every copy of the secret this makes is wiped before it is freed.
 */
int secret_read(char **out, const char *path, unsigned flags);

/* Wipe and free a secret from secret_read() (NULL is fine). */
void secret_free(char *secret);

#endif
