/*
 * names.h - the strict name patterns.  Anything read from git or chat
 * passes one of these validators before it becomes a path, a YAML key, a
 * Terraform label or a resource name: none of them admits '/', "..",
 * quotes, spaces, newlines, '$', '{' or '%'.  Kept apart from validate.c
 * so the libc-only `firebreak` front can check an fqdn.
 *
 * Layer: base (includes base only).
 */
#ifndef FIREBREAK_NAMES_H
#define FIREBREAK_NAMES_H

/* Each returns 1 when s is valid. */
int valid_fqdn(const char *s);       /* lowercase DNS labels, >= 2 labels, <= 253 */
int valid_zone(const char *s);       /* like an fqdn */
int valid_role(const char *s);       /* [a-z][a-z0-9_-]{0,62} */
int valid_service(const char *s);    /* [a-z][a-z0-9_-]{0,62} */
int valid_env(const char *s);        /* [a-z][a-z0-9_]{0,62}: a Puppet environment */
int valid_class(const char *s);      /* Puppet class: a::b::c */
int valid_hiera_key(const char *s);  /* segments [a-z0-9_]+ joined by "::" */
int valid_version(const char *s);    /* [0-9A-Za-z][0-9A-Za-z._+~-]{0,63} */
int valid_ipv4(const char *s);       /* dotted quad, no leading zeros */
int valid_ipv6(const char *s);
int valid_record_name(const char *s);/* "@" or relative labels, '_' and a leading '*' allowed */
int valid_record_type(const char *s);/* A AAAA CNAME MX TXT NS SRV CAA PTR */
int valid_zone_id(const char *s);    /* [A-Z0-9]{1,32} */
int valid_param_key(const char *s);  /* a Puppet variable name: [a-z_][a-zA-Z0-9_]* */
int valid_user(const char *s);       /* a policy user or group: [a-z][a-z0-9_.-]{0,63} */

#endif
