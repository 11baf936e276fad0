/* main — icegate's entry point: everything is in cli.c (argv), server.c (serve) and the modules. */
#include "cli.h"

int main(int argc, char **argv)
{
    return ig_cli_main(argc, argv);
}
