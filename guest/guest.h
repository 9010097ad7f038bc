/* kiln-guest subcommands implemented outside probe.c. */
#pragma once
int cmd_net_recv(const char *port);
int cmd_net_send(const char *host, const char *port, long mb);
int cmd_net_echo(const char *port);
int cmd_net_rr(const char *host, const char *port, long count);
int cmd_ping(const char *addr, long count);
/* ctr-probe, ctr-exit, hog (container.c): their exit status, or -1 when argv names none of them. */
int cmd_container(int argc, char **argv);
