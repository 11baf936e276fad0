/* main — argv, config, signals, start/stop. */
#include <stdio.h>
int main(void)
{
    puts("icegate");
    return 0;
}
